"""Register files, --reg values and the root shortcut."""

from __future__ import annotations

import json

import pytest

import oracle_data
from pgwalk.errors import InputError, RegisterError
from pgwalk.formats.registers import TCR_EL1
from pgwalk.params import setup_from_registers
from pgwalk.regs import canonical_name, load_register_file, parse_int, parse_reg_assignment, shortcut_registers


def test_json_and_toml_files_agree(tmp_path):
    j = tmp_path / "r.json"
    j.write_text(json.dumps({"tcr_el1": "0x10", "TTBR0_EL1": 1073741824, "_comment": "x", "PAR_EL1": None}))
    t = tmp_path / "r.toml"
    t.write_text('TCR_EL1 = 0x10\nttbr0_el1 = "0x4000_0000"\n')
    assert load_register_file(j) == load_register_file(t) == {"TCR_EL1": 0x10, "TTBR0_EL1": 0x4000_0000}


def test_nesting_is_refused_past_a_depth_on_every_python(tmp_path):
    # 300 levels parse on every Python (3.12 and older stop near 1000, 3.13's JSON parser does not
    # stop), so the same message must come from pgwalk's own limit
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps({"TCR_EL1": "0x10", "fields": json.loads("[" * 300 + "]" * 300)}))
    with pytest.raises(RegisterError, match="deep.json: not a register file .JSON nested too deeply"):
        load_register_file(deep)
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("TCR_EL1 = 0x10\nfields = " + "[" * 300 + "]" * 300 + "\n")
    with pytest.raises(RegisterError, match="deep.toml: not a register file .TOML nested too deeply"):
        load_register_file(deep_toml)
    # a decode table a few levels deep is skipped, as ever
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"TCR_EL1": "0x10", "tcr_el1_fields": {"t0sz": {"value": 16, "bits": [5, 0]}}}))
    assert load_register_file(ok) == {"TCR_EL1": 0x10}


def test_oracle_gdb_register_dump_loads_as_is():
    path = oracle_data.linux_oracle_dir()
    if path is None or not (path / "regs.json").exists():
        pytest.skip("Linux oracle not present")
    regs = load_register_file(path / "regs.json")
    assert regs["TCR_EL1"] == 0x015001F5B5503510 and regs["SCTLR_EL1"] == 0x2000018FC74791D  # gdb's "SCTLR"
    assert regs["PSTATE"] == 0x60001000                                                      # "cpsr"
    s = setup_from_registers(regs)
    assert s.ranges[1].base == 0x41858000 and s.ranges[1].granule_shift == 12


@pytest.mark.parametrize("name,hint", [("TCR_EL11", "TCR_EL1"), ("TTRB0_EL1", "TTBR0_EL1"), ("VTCR_EL1", "VTCR_EL2")])
def test_unknown_names_list_close_matches(name, hint):
    with pytest.raises(RegisterError, match=hint):
        canonical_name(name)


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RegisterError, match="not valid JSON"):
        load_register_file(bad)
    bad.write_text('{"TCR_EL1": "0x1", "tcr_el1": "0x2"}')
    with pytest.raises(RegisterError, match="given twice"):
        load_register_file(bad)
    bad.write_text('{"TCR_EL1": -1}')
    with pytest.raises(InputError, match="64 bits"):
        load_register_file(bad)
    with pytest.raises(RegisterError, match=r"missing\.json: no such file"):
        load_register_file(tmp_path / "missing.json")


@pytest.mark.parametrize("text,value", [("0x10", 16), ("16", 0x16), ("0b101", 0xB101), ("ffff_0000", 0xFFFF0000),
                                        (16, 16)])      # strings are hex (pgwalk.values), numbers numbers
def test_parse_int(text, value):
    assert parse_int(text) == value


def test_reg_assignment():
    assert parse_reg_assignment("sctlr=0x1") == ("SCTLR_EL1", 1)
    with pytest.raises(RegisterError, match="NAME=VALUE"):
        parse_reg_assignment("TCR_EL1")


@pytest.mark.parametrize("granule,va_bits,g,ds", [("4k", 48, 12, 0), ("16k", 47, 14, 0), ("64k", 52, 16, 0), ("4k", 52, 12, 1)])
def test_shortcut_builds_equivalent_registers(granule, va_bits, g, ds):
    regs = shortcut_registers(granule, va_bits, 0x4000_0000)
    assert TCR_EL1["DS"].get(regs["TCR_EL1"]) == ds
    s = setup_from_registers(regs)
    for p in s.ranges:
        assert (p.granule_shift, p.iasize, p.base) == (g, va_bits, 0x4000_0000)


def test_missing_id_register_is_assumed_and_said():
    s = setup_from_registers({"TCR_EL1": 0x10, "SCTLR_EL1": 1})
    assert s.features.pa_max == 52
    assert any("PARange 52" in n for n in s.notes)


def test_tcr2_enables_are_said_not_modelled_and_new_registers_are_known():
    """A register file from a FEAT_TCR2 machine loads (HCRX_EL2, POR_ELx, S2PIR_EL2 are
    architectural names), and a non-zero TCR2_EL1 is never silently read as TCR2-off."""
    from pgwalk.params import setup_from_registers
    from pgwalk.regs import canonical_name

    for name in ("HCRX_EL2", "POR_EL0", "POR_EL1", "S2PIR_EL2", "S2POR_EL1", "PIR_EL3"):
        assert canonical_name(name.lower()) == name
    regs = {"TCR_EL1": 0x15B5103510, "TTBR1_EL1": 0x40010000, "SCTLR_EL1": 1, "MAIR_EL1": 0xFF}
    assert not any("TCR2" in n for n in setup_from_registers(regs).notes)
    notes = setup_from_registers({**regs, "TCR2_EL1": 0x2}).notes
    # PIE is modelled now (tests/test_pie.py); with PIR_EL1 not given the permissions are said unknown
    assert any("PIR_EL1 was not given: stage 1 permissions are unknown" in n for n in notes)
    notes = setup_from_registers({**regs, "TCR2_EL1": 0x10}).notes
    # AIE is modelled now: without MAIR2_EL1 the attributes it selects are said unknown
    assert any(n.startswith("TCR2_EL1.AIE = 1 but MAIR2_EL1 was not given") for n in notes)
