"""pgwalk.at: AT operations, permission semantics, PAN, PAR encoding, comparison verdicts,
mismatch explanations and the batch runner (library level; the CLI is in test_at_cli.py)."""

from __future__ import annotations

import json

import pytest

from pgwalk.at import (
    AT_OPS, ATBatch, CAPTURED_EXCEPTION, _Overlay, at, build_leaf_index, compare_par, explain_mismatch,
    par_decode, parse_at_op, parse_batch_line, pstate_pan,
)
from pgwalk.builder import S1Attrs, S2Attrs, TableAttrs, TableBuilder, two_stage
from pgwalk.errors import InputError
from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK, PSTATE, SCTLR, TCR_EL2_E2H0, TCR_EL3
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access

PERM_L3 = 0b001111          # FST: permission fault, level 3
PAGE = 0x1000


def fst(par: int) -> int:
    assert par & 1, hex(par)
    return PAR_EL1_FAULT["FST"].get(par)


def pa_of(par: int) -> int:
    assert not par & 1, hex(par)
    return PAR_EL1_OK["PA"].get(par) << 12


# --------------------------------------------------------------------------- the op table

def test_parse_at_op_forms():
    for text in ("S1E1R", "s1e1r", "AT S1E1R", "at  s1e1r ", " At S1e1R"):
        assert parse_at_op(text) is AT_OPS["S1E1R"]
    with pytest.raises(InputError, match="did you mean"):
        parse_at_op("S1E1Q")
    with pytest.raises(InputError):
        parse_at_op("S2E1R")


@pytest.mark.parametrize("name,stages,el,access,pan,regime_el", [
    ("S1E0R", "1", 0, Access.READ, False, 1), ("S1E0W", "1", 0, Access.WRITE, False, 1),
    ("S1E1R", "1", 1, Access.READ, False, 1), ("S1E1W", "1", 1, Access.WRITE, False, 1),
    ("S1E1RP", "1", 1, Access.READ, True, 1), ("S1E1WP", "1", 1, Access.WRITE, True, 1),
    ("S1E1A", "1", 1, Access.ANY, False, 1),
    ("S12E0R", "12", 0, Access.READ, False, 1), ("S12E0W", "12", 0, Access.WRITE, False, 1),
    ("S12E1R", "12", 1, Access.READ, False, 1), ("S12E1W", "12", 1, Access.WRITE, False, 1),
    ("S1E2R", "1", 2, Access.READ, False, 2), ("S1E2W", "1", 2, Access.WRITE, False, 2),
    ("S1E2A", "1", 2, Access.ANY, False, 2),
    ("S1E3R", "1", 3, Access.READ, False, 3), ("S1E3W", "1", 3, Access.WRITE, False, 3),
])
def test_op_table_matches_fact_sheet(name, stages, el, access, pan, regime_el):
    op = AT_OPS[name]
    assert (op.stages, op.el, op.access, op.pan, op.regime_el) == (stages, el, access, pan, regime_el)


# --------------------------------------------------------------------------- stage 1 permissions

VA = {0b00: 0x10000, 0b01: 0x11000, 0b10: 0x12000, 0b11: 0x13000}
PA = 0x8000_0000


@pytest.fixture(scope="module")
def s1():
    b = TableBuilder(granule=4096, ia_bits=48)
    for ap, va in VA.items():
        b.map(va, PA + va, PAGE, S1Attrs(ap=ap, uxn=1, pxn=1))
    # AP=01 (EL0 RW) below a table with APTable = 01 (no EL0 access)
    b.map(0x4000_0000, PA, PAGE, S1Attrs(ap=0b01, uxn=1, pxn=1), table_attrs=TableAttrs(aptable=0b01))
    # AP=00 and EL0-executable (UXN=0): EPAN territory
    b.map(0x20000, PA + 0x20000, PAGE, S1Attrs(ap=0b00, uxn=0, pxn=1))
    return b.registers(), b.memory()


#: (AP[2:1]) -> which ops may access: EL1 R/W, EL0 R/W (ARM Table D8-63)
ALLOWED = {
    0b00: {"S1E1R", "S1E1W"},
    0b01: {"S1E1R", "S1E1W", "S1E0R", "S1E0W"},
    0b10: {"S1E1R"},
    0b11: {"S1E1R", "S1E0R"},
}


@pytest.mark.parametrize("ap", sorted(VA))
@pytest.mark.parametrize("name", ["S1E0R", "S1E0W", "S1E1R", "S1E1W", "S1E1A"])
def test_stage1_permissions_per_op(s1, ap, name):
    regs, mem = s1
    r = at(regs, mem, name, VA[ap] + 0x123)
    allowed = name == "S1E1A" or name in ALLOWED[ap]
    if allowed:
        assert pa_of(r.par) == PA + VA[ap]
    else:
        assert fst(r.par) == PERM_L3 and not PAR_EL1_FAULT["S"].get(r.par)


@pytest.mark.parametrize("ap", sorted(VA))
@pytest.mark.parametrize("pan", [False, True])
@pytest.mark.parametrize("name", ["S1E1RP", "S1E1WP", "S1E1R", "S1E1W"])
def test_pan_only_for_rp_wp_and_el0_accessible_pages(s1, ap, pan, name):
    """S1E1RP/WP with PSTATE.PAN = 1 fault on EL0-accessible pages (reads too); S1E1R/W ignore PAN."""
    regs, mem = s1
    r = at(regs, mem, name, VA[ap], pan=pan)
    base = name[:5]
    allowed = base in ALLOWED[ap]
    if name.endswith("P") and pan and ap in (0b01, 0b11):
        allowed = False
    assert (not r.par & 1) == allowed, (name, ap, pan, hex(r.par))
    if not allowed:
        assert fst(r.par) == PERM_L3


def test_pan_follows_aptable(s1):
    """APTable = 01 removes EL0 access, so PAN no longer takes EL1 access away."""
    regs, mem = s1
    assert not at(regs, mem, "S1E1RP", 0x4000_0000, pan=True).par & 1
    assert fst(at(regs, mem, "S1E0R", 0x4000_0000).par) == PERM_L3


def test_epan_makes_el0_executable_pages_pan_protected(s1):
    regs, mem = s1
    assert not at(regs, mem, "S1E1RP", 0x20000, pan=True).par & 1
    epan = dict(regs, SCTLR_EL1=SCTLR["EPAN"].put(regs["SCTLR_EL1"], 1))
    assert fst(at(epan, mem, "S1E1RP", 0x20000, pan=True).par) == PERM_L3
    assert not at(epan, mem, "S1E1R", 0x20000, pan=True).par & 1


def test_pan_from_pstate_cpsr_and_override(s1):
    regs, mem = s1
    with_pan = dict(regs, PSTATE=PSTATE["PAN"].put(0x3C5, 1))
    assert pstate_pan(with_pan) and not pstate_pan(regs)
    assert pstate_pan({"PAN": 1 << 22}) and pstate_pan({"PAN": 1})
    r = at(with_pan, mem, "S1E1RP", VA[0b01])
    assert r.pan and fst(r.par) == PERM_L3
    assert not at(with_pan, mem, "S1E1RP", VA[0b01], pan=False).par & 1       # --no-pan wins


def test_pan2_missing_is_noted(s1):
    regs, mem = s1
    no_pan2 = dict(regs, ID_AA64MMFR1_EL1=1 << 20, ID_AA64MMFR2_EL1=0)    # PAN = 1: FEAT_PAN only
    r = at(no_pan2, mem, "S1E1RP", VA[0b00])
    assert any("FEAT_PAN2" in n for n in r.notes)


def test_success_par_fields(s1):
    regs, mem = s1
    r = at(regs, mem, "S1E1R", VA[0b00] + 0x234)
    d = par_decode(r.par)
    assert d["F"] == 0 and d["PA"] == f"{PA + VA[0b00]:#x}" and d["ATTR"] == "0xff" and d["SH"] == 0b11
    assert r.par >> 11 & 1 and r.regime is Regime.EL10 and r.stages_used == "1"


def test_fault_par_translation(s1):
    regs, mem = s1
    r = at(regs, mem, "S1E1R", 0x7000_0000)
    assert r.par & 1 and PAR_EL1_FAULT["FST"].get(r.par) >> 2 == 0b0001    # translation
    assert par_decode(r.par)["fault"].endswith("translation fault")


def test_sea_on_walk_raises_instead_of_par():
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x1000, PA, PAGE)
    regs = b.registers()
    regs["TTBR0_EL1"] = 0x7000_0000        # outside the image
    r = at(regs, b.memory(), "S1E1R", 0x1000)
    assert r.par is None and "external abort" in r.exception


# --------------------------------------------------------------------------- EL2 / EL3 regimes

def _one_el_regs(b: TableBuilder, el: int) -> dict:
    layout = TCR_EL3 if el == 3 else TCR_EL2_E2H0
    tcr = layout.encode(T0SZ=16, TG0=0, PS=5, SH0=3, IRGN0=1, ORGN0=1, RES1_23=1, RES1_31=1)
    return {f"TCR_EL{el}": tcr, f"TTBR0_EL{el}": b.ttbr_value(), f"MAIR_EL{el}": 0xFF,
            f"SCTLR_EL{el}": SCTLR.encode(M=1), "ID_AA64MMFR0_EL1": 0x32310201126}


@pytest.mark.parametrize("el", [2, 3])
def test_one_el_regimes(el):
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x1000, PA, PAGE, S1Attrs(ap=0b10))    # read-only
    b.map(0x2000, PA + PAGE, PAGE, S1Attrs(ap=0b00))
    regs, mem = _one_el_regs(b, el), b.memory()
    r = at(regs, mem, f"S1E{el}R", 0x1000)
    assert pa_of(r.par) == PA and r.regime is (Regime.EL3 if el == 3 else Regime.EL2)
    assert fst(at(regs, mem, f"S1E{el}W", 0x1000).par) == PERM_L3
    assert not at(regs, mem, f"S1E{el}W", 0x2000).par & 1
    if el == 2:
        assert not at(regs, mem, "S1E2A", 0x1000).par & 1
    else:
        assert PAR_EL1_OK["NS"].get(r.par) == 0    # a Secure regime: PA space known


def test_el3_ns_from_descriptor_and_nstable():
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x1000, PA, PAGE, S1Attrs(ns=1))
    b.map(0x4000_0000, PA, PAGE, S1Attrs(ns=0), table_attrs=TableAttrs(nstable=1))
    b.map(0x8000_0000, PA, PAGE)
    regs, mem = _one_el_regs(b, 3), b.memory()
    ns = lambda va: PAR_EL1_OK["NS"].get(at(regs, mem, "S1E3R", va).par)      # noqa: E731
    assert (ns(0x1000), ns(0x4000_0000), ns(0x8000_0000)) == (1, 1, 0)
    sw = at(regs, mem, "S1E3R", 0x1000).par
    assert not compare_par(sw, sw & ~(1 << 9), compare_ns=True).match


# --------------------------------------------------------------------------- two stages

@pytest.fixture(scope="module")
def s12():
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40)
    ts.map(0x40_0000, 0x1000_0000, PAGE, S1Attrs(ap=0b01, attr_indx=0), pa=0x6000_0000,
           s2_attrs=S2Attrs(s2ap=0b01, memattr=0b1111))                          # stage 2 read-only
    ts.map(0x40_1000, 0x1000_1000, PAGE, S1Attrs(ap=0b01, attr_indx=0), pa=0x6000_1000,
           s2_attrs=S2Attrs(memattr=0b0001))                                      # stage 2 Device-nGnRE
    ts.map(0x40_2000, 0x1000_2000, PAGE, S1Attrs(ap=0b01))                        # no stage 2 mapping
    return ts.registers(), ts.memory()


def test_s12_reports_pa_and_combined_attrs(s12):
    regs, mem = s12
    r = at(regs, mem, "S12E1R", 0x40_0123)
    assert pa_of(r.par) == 0x6000_0000 and r.stages_used == "12"
    assert PAR_EL1_OK["ATTR"].get(r.par) == 0xFF
    dev = at(regs, mem, "S12E0R", 0x40_1000)
    assert PAR_EL1_OK["ATTR"].get(dev.par) == 0x04 and PAR_EL1_OK["SH"].get(dev.par) == 0b10


def test_s1_ops_under_stage2_report_the_ipa(s12):
    regs, mem = s12
    r = at(regs, mem, "S1E1R", 0x40_0123)
    assert pa_of(r.par) == 0x1000_0000 and r.stages_used == "1"


def test_s12_stage2_permission_and_translation_faults(s12):
    regs, mem = s12
    w = at(regs, mem, "S12E1W", 0x40_0000)
    assert fst(w.par) == PERM_L3 and PAR_EL1_FAULT["S"].get(w.par) and not PAR_EL1_FAULT["PTW"].get(w.par)
    assert not at(regs, mem, "S1E1W", 0x40_0000).par & 1          # stage 1 alone allows the write
    t = at(regs, mem, "S12E0R", 0x40_2000)
    assert PAR_EL1_FAULT["S"].get(t.par) and fst(t.par) >> 2 == 0b0001


def test_s12_with_stage2_off_behaves_as_s1(s1):
    regs, mem = s1
    r12, r1 = at(regs, mem, "S12E1R", VA[0b00]), at(regs, mem, "S1E1R", VA[0b00])
    assert r12.par == r1.par and r12.stages_used == "1" and any("behaves as" in n for n in r12.notes)


def test_stage2_fault_on_stage1_walk():
    """In PAR (S = 1, PTW = 1) from EL2; a Data Abort when the AT runs at EL1."""
    ts = two_stage(granule=4096, va_bits=48, ipa_bits=40)
    ts.map(0x40_0000, 0x1000_0000, PAGE)
    regs2 = ts.registers()
    # make the stage 1 table window unreadable at stage 2 (S2AP = 00)
    ts.s2.map(ts.s1.table_base, ts.s1_table_pa, ts.s1_table_size, S2Attrs(s2ap=0b00))
    mem2 = ts.memory()
    r = at(regs2, mem2, "S1E1R", 0x40_0000)
    assert PAR_EL1_FAULT["S"].get(r.par) and PAR_EL1_FAULT["PTW"].get(r.par)
    assert fst(r.par) >> 2 == 0b0011                          # permission, at the stage 2 level
    r1 = at(regs2, mem2, "S1E1R", 0x40_0000, exec_el=1)
    assert r1.par is None and "EL1" in r1.exception
    with pytest.raises(InputError):
        at(regs2, mem2, "S12E1R", 0x40_0000, exec_el=1)    # UNDEFINED at EL1


# --------------------------------------------------------------------------- comparison verdicts

OK = PAR_EL1_OK.encode(F=0, SH=3, NS=1, NSE=1, PA=0x40001, ATTR=0xFF)
FAULT = PAR_EL1_FAULT.encode(F=1, FST=0b000111, RES1_11=1)


def test_compare_ignores_ns_bit10_impdef():
    assert compare_par(OK, OK & ~(1 << 9)).match                       # NS UNKNOWN from Non-secure
    assert compare_par(OK, OK | (1 << 10)).match                       # PAR[10] IMPDEF
    assert compare_par(FAULT, FAULT | (0xABCD << 48)).match            # fault [63:48] IMPDEF
    assert compare_par(OK, 0xFF00000040001980).match                  # the fact sheet's example
    assert not compare_par(OK, OK & ~(1 << 9), compare_ns=True).match  # a Secure regime compares NS


@pytest.mark.parametrize("hw,field", [
    (OK ^ (1 << 12), "PA"), (PAR_EL1_OK["ATTR"].put(OK, 0x44), "ATTR"), (PAR_EL1_OK["SH"].put(OK, 2), "SH"),
])
def test_compare_success_fields(hw, field):
    d = compare_par(OK, hw)
    assert not d.match and [f[0] for f in d.fields] == [field]


@pytest.mark.parametrize("hw,field", [
    (PAR_EL1_FAULT["FST"].put(FAULT, 0b000110), "FST"), (FAULT | 1 << 8, "PTW"), (FAULT | 1 << 9, "S"),
])
def test_compare_fault_fields(hw, field):
    d = compare_par(FAULT, hw)
    assert [f[0] for f in d.fields] == [field]
    assert d.to_json()[0]["field"] == field


def test_compare_format_and_exception():
    assert compare_par(OK, FAULT).fields == (("F", 0, 1),)
    assert compare_par(None, CAPTURED_EXCEPTION).match
    assert not compare_par(OK, CAPTURED_EXCEPTION).match
    assert not compare_par(None, FAULT).match
    assert compare_par(OK, OK & ~(1 << 11)).warnings


# --------------------------------------------------------------------------- explanations

@pytest.fixture()
def tree():
    b = TableBuilder(granule=4096, ia_bits=48)
    b.map(0x1000, PA, PAGE, S1Attrs(ap=0b01))
    b.map(0x2000, PA + 0x5000, PAGE, S1Attrs(ap=0b00))
    return b


def _explain(regs, mem, op, va, hw, pan=None):
    setup = setup_from_registers(regs)
    r = at(setup, mem, op, va, pan=pan)
    assert not compare_par(r.par, hw).match
    return explain_mismatch(r, hw, setup, mem, index_cache={})


def test_explain_changed_descriptor(tree):
    regs, mem = tree.registers(), tree.memory()
    entry = tree.descriptor_address(0x1000, 3)
    old = at(regs, mem, "S1E1R", 0x1000).par
    tree.map(0x1000, PA + 0x9000, PAGE, S1Attrs(ap=0b01))       # the table changes after the AT
    reasons = _explain(regs, tree.memory(), "S1E1R", 0x1000, old)
    first = reasons[0]
    assert first.kind == "stale-descriptor" and first.confirmed and f"{entry:#x}" in first.text


def test_explain_removed_mapping(tree):
    regs, mem = tree.registers(), tree.memory()
    old = at(regs, mem, "S1E1R", 0x1000).par
    tree.unmap(0x1000, PAGE)
    reasons = _explain(regs, tree.memory(), "S1E1R", 0x1000, old)
    assert any(r.kind == "stale-descriptor" for r in reasons)


def test_explain_mair(tree):
    regs, mem = tree.registers(), tree.memory()
    hw = PAR_EL1_OK["ATTR"].put(at(regs, mem, "S1E1R", 0x1000).par, 0xBB)
    reasons = _explain(regs, mem, "S1E1R", 0x1000, hw)
    assert any(r.kind == "mair" and r.confirmed and "Attr0 = 0xbb" in r.text for r in reasons)


def test_explain_tcr(tree):
    regs, mem = tree.registers(), tree.memory()
    other = dict(regs, TCR_EL1=regs["TCR_EL1"] | (1 << 7))          # EPD0 = 1
    hw = at(other, mem, "S1E1R", 0x1000).par
    assert hw & 1
    reasons = _explain(regs, mem, "S1E1R", 0x1000, hw)
    assert any(r.kind == "tcr" and r.confirmed and "EPD0 = 1" in r.text for r in reasons)


def test_explain_pan(tree):
    regs, mem = tree.registers(), tree.memory()
    hw = at(regs, mem, "S1E1RP", 0x1000, pan=True).par
    reasons = _explain(regs, mem, "S1E1RP", 0x1000, hw, pan=False)
    assert reasons[0].kind == "pan" and reasons[0].confirmed
    reasons = _explain(regs, mem, "S1E1R", 0x1000, hw)
    assert reasons[0].kind == "pan" and "S1E1RP" in reasons[0].text


def test_explain_permission_variant(tree):
    regs, mem = tree.registers(), tree.memory()
    hw = at(regs, mem, "S1E0R", 0x2000).par                       # EL0 has no access to AP=00
    reasons = _explain(regs, mem, "S1E1R", 0x2000, hw)
    assert any(r.kind in ("permission", "stale-descriptor") and r.confirmed for r in reasons)


def test_explain_reverse_lookup(tree):
    regs, mem = tree.registers(), tree.memory()
    hw = PAR_EL1_OK["PA"].put(at(regs, mem, "S1E1R", 0x1000).par, (PA + 0x5000) >> 12)
    reasons = _explain(regs, mem, "S1E1R", 0x1000, hw)
    assert any(r.kind == "reverse-lookup" and "VA 0x2000" in r.text for r in reasons)


def test_explain_fault_level(tree):
    regs, mem = tree.registers(), tree.memory()
    sw = at(regs, mem, "S1E1R", 0x7000_0000).par
    hw = PAR_EL1_FAULT["FST"].put(sw, (fst(sw) & ~3) | ((fst(sw) + 1) & 3))
    reasons = _explain(regs, mem, "S1E1R", 0x7000_0000, hw)
    assert any(r.kind in ("fault-level", "stale-descriptor", "tcr") for r in reasons)


def test_explain_not_in_image(tree):
    regs = tree.registers()
    regs["TTBR0_EL1"] = 0x7000_0000
    setup = setup_from_registers(regs)
    r = at(setup, tree.memory(), "S1E1R", 0x1000)
    reasons = explain_mismatch(r, FAULT, setup, tree.memory())
    assert reasons[0].kind == "not-in-image"


def test_overlay_memory(tree):
    mem = tree.memory()
    entry = tree.descriptor_address(0x1000, 3)
    ov = _Overlay(mem, {entry: 0})
    assert ov.read_u64(entry) == 0 and ov.read_u64(entry + 8) == mem.read_u64(entry + 8)
    # read() sees the patched word too (whole-table readers use it), in and around it
    table = entry & ~0xFFF
    data = ov.read(table, 4096)
    assert data[entry - table:entry - table + 8] == bytes(8)
    assert data[:entry - table] == mem.read(table, entry - table)
    assert data[entry - table + 8:] == mem.read(entry + 8, table + 4096 - entry - 8)
    assert ov.read(entry + 4, 8) == bytes(4) + mem.read(entry + 8, 4)
    assert ov.read(entry - 4, 6) == mem.read(entry - 4, 4) + bytes(2)
    # in the tables' byte order, as both reads give it
    be = _Overlay(mem, {entry: 0x1122334455667788}, big_endian=True)
    assert be.read(entry, 8) == bytes.fromhex("1122334455667788")
    assert be.read_u64(entry, big_endian=True) == 0x1122334455667788
    assert be.read_u64(entry + 2, big_endian=True) == int.from_bytes(
        bytes.fromhex("334455667788") + mem.read(entry + 8, 2), "big")


def test_overlay_is_seen_by_the_tree_walk(tree):
    """The leaf index walks whole tables with read(): a hypothetical descriptor changes it."""
    setup, mem = setup_from_registers(tree.registers()), tree.memory()
    entry = tree.descriptor_address(0x1000, 3)
    assert build_leaf_index(setup, mem, 1).find(PA)
    assert not build_leaf_index(setup, _Overlay(mem, {entry: 0}), 1).find(PA)
    moved = _Overlay(mem, {entry: tree.leaf_descriptor(PA + 0x7000, 3, S1Attrs())})
    assert [h[:4] for h in build_leaf_index(setup, moved, 1).find(PA + 0x7008)] == [(PA + 0x7000, PAGE, 0x1000, 3)]


def test_leaf_index_finds_aliases_through_shared_tables(tree):
    """A level 3 table two level 2 entries point at maps its pages at both VAs (the walk reads it
    once and reports the second as a reference; the index repeats its leaves there)."""
    l3 = tree.decode_table_address(tree.read(tree.descriptor_address(0x1000, 2)))
    tree.map(0x4000_0000, PA + 0x20_0000, PAGE)           # (makes the level 2 table)
    tree.write(tree.descriptor_address(0x4000_0000 + 0x60_0000, 2), tree.table_descriptor(l3))
    setup, mem = setup_from_registers(tree.registers()), tree.memory()
    idx = build_leaf_index(setup, mem, 1)
    hits = sorted(h[:5] for h in idx.find(PA + 0x5010))
    assert hits == [(PA + 0x5000, PAGE, 0x2000, 3, "TTBR0_EL1"), (PA + 0x5000, PAGE, 0x4060_2000, 3, "TTBR0_EL1")]
    assert not idx.truncated
    hw = PAR_EL1_OK["PA"].put(at(setup, mem, "S1E1R", 0x1000).par, (PA + 0x5000) >> 12)
    texts = [r.text for r in explain_mismatch(at(setup, mem, "S1E1R", 0x1000), hw, setup, mem, index_cache={})
             if r.kind == "reverse-lookup"]
    assert any("VA 0x2000 " in t for t in texts) and any("VA 0x40602000 " in t for t in texts)


def test_leaf_index_runs_are_narrowed_to_the_leaf_and_limits_truncate(tree, monkeypatch):
    import pgwalk.at as at_mod

    tree.map(0x20_0000, 0x9000_0000, 0x20_0000, min_leaf_level=3)      # 512 pages, one run
    setup, mem = setup_from_registers(tree.registers()), tree.memory()
    idx = build_leaf_index(setup, mem, 1)
    assert (0x9000_0000, 0x20_0000, 0x20_0000, 3, "TTBR0_EL1") in idx.entries
    assert [h[:4] for h in idx.find(0x9012_3456)] == [(0x9012_3000, PAGE, 0x32_3000, 3)]
    monkeypatch.setattr(at_mod, "_MAX_LEAVES", 100)
    assert build_leaf_index(setup, mem, 1).truncated
    monkeypatch.setattr(at_mod, "_MAX_TABLES", 2)
    monkeypatch.setattr(at_mod, "_MAX_LEAVES", 10 ** 6)
    assert build_leaf_index(setup, mem, 1).truncated


# --------------------------------------------------------------------------- batches

def test_parse_batch_line_and_errors():
    ln = parse_batch_line('{"op": "at s1e1r", "va": "0x1000", "par": "0x80f", "pan": 1, "id": 7}', 3)
    assert ln.op is AT_OPS["S1E1R"] and ln.va == 0x1000 and ln.captured == 0x80F and ln.pan and ln.ident == 7
    assert parse_batch_line("   ", 1) is None and parse_batch_line("# comment", 2) is None
    assert parse_batch_line('{"op": "S1E1R", "va": 1, "par": "exception"}', 1).captured == CAPTURED_EXCEPTION
    for bad, msg in (("{", "not valid JSON"), ("[1]", "JSON object"), ('{"op": "S1E1R"}', "needs"),
                     ('{"op": "X", "va": 1}', "unknown AT"), ('{"op": "S1E1R", "va": "zz"}', "not a hexadecimal address"),
                     ('{"op": "S1E1R", "va": 1, "pan": 2}', "pan"), ('{"op": "S1E1R", "va": 1, "regs": 5}', "regs")):
        with pytest.raises(InputError, match=msg):
            parse_batch_line(bad, 9, "f.jsonl")


def test_batch_line_regs_override_only_that_line(tree):
    regs, mem = tree.registers(), tree.memory()
    batch = ATBatch(mem, regs)
    lines = [parse_batch_line(json.dumps(x), n) for n, x in enumerate([
        {"op": "S1E1R", "va": "0x1000"},
        {"op": "S1E1R", "va": "0x1000", "regs": {"ttbr0_el1": "0x0"}},     # another context: no tables at 0
        {"op": "S1E1R", "va": "0x1000"},
        {"op": "S1E1R", "va": "0x1000", "regs": {"TTBR0_EL1": "0x0"}},     # same state, other spelling
    ], 1)]
    out = [batch.run(x)[0] for x in lines]
    assert out[0]["par"] == out[2]["par"] and out[0]["decode"]["F"] == 0
    assert out[1]["par"] is None and out[1]["exception"]
    assert len(batch._setups) == 3       # base, and each spelling of the override (decoded once each)


def test_batch_setups_are_cached(tree):
    regs, mem = tree.registers(), tree.memory()
    batch = ATBatch(mem, regs)
    line = parse_batch_line('{"op": "S1E1R", "va": "0x1000", "regs": {"MAIR_EL1": "0xff"}}', 1)
    for _ in range(50):
        batch.run(line)
    assert len(batch._setups) == 1 and len(batch._regs) == 2


def test_batch_bad_register_names_line(tree):
    batch = ATBatch(tree.memory(), tree.registers(), where="x.jsonl")
    line = parse_batch_line('{"op": "S1E1R", "va": 1, "regs": {"TCR_EL9": 1}}', 4, "x.jsonl")
    with pytest.raises(InputError, match="x.jsonl:4"):
        batch.validate([line])


def test_batch_output_object(tree):
    regs, mem = tree.registers(), tree.memory()
    batch = ATBatch(mem, regs, explain="quick")
    sw = at(regs, mem, "S1E1R", 0x1000).par
    d, _, diff = batch.run(parse_batch_line(json.dumps({"op": "S1E1R", "va": "0x1000", "par": hex(sw)}), 1))
    assert d["match"] and d["verdict"] == "match" and d["diff"] == [] and diff.match
    d, _, _ = batch.run(parse_batch_line(json.dumps({"op": "S1E1W", "va": "0x2000", "par": "0x80f", "pan": 0}), 2))
    assert not d["match"] and d["diff"][0]["field"] == "F" and d["reasons"]
    d, _, _ = batch.run(parse_batch_line('{"op": "S1E0R", "va": "0x2000"}', 3))
    assert d["verdict"] == "no capture" and "match" not in d
    assert set(d) >= {"op", "va", "pan", "par", "decode", "exception", "regime", "stages", "line"}
