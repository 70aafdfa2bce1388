"""Issue 12 item 6: ``pgwalk decode REG VALUE`` and the walker agree.

For random TCR_EL1, TCR_EL2 (E2H 0 and 1), TCR_EL3 and VTCR_EL2 values, under a few
ID_AA64MMFR0_EL1 variants, what ``decode`` reports (configuration faults, start
levels, IA/OA sizes, concatenation) must be what ``setup_from_registers`` decides
(the parameters every walk path reads its configuration faults from), and each
configuration fault must be shown as a warning.
"""

from hypothesis import example, given, settings, strategies as st

from pgwalk.esr import decode_register
from pgwalk.params import Regime, setup_from_registers

# None: not given (assumed); PARange 40 bits no LPA2; 48 bits no LPA2, 16KB; 52 bits with LPA2
MMFR0_VARIANTS = [None, 0x0000_0000_0000_0002, 0x0000_0000_0010_0005, 0x0000_0000_0021_0006]

REG = st.integers(min_value=0, max_value=(1 << 64) - 1)
MMFR0 = st.sampled_from(MMFR0_VARIANTS)

CASES = {
    # register, e2h -> regime, extra registers the walk needs to pick that regime
    ("TCR_EL1", False): (Regime.EL10, {}),
    ("TCR_EL2", False): (Regime.EL2, {"HCR_EL2": 0}),
    ("TCR_EL2", True): (Regime.EL20, {"HCR_EL2": 1 << 34}),
    ("TCR_EL3", False): (Regime.EL3, {}),
}


def _ids(mmfr0):
    return {} if mmfr0 is None else {"ID_AA64MMFR0_EL1": mmfr0}


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(sorted(CASES)), value=REG, mmfr0=MMFR0)
# configuration faults in every regime, whatever the random values cover: TxSZ below the
# minimum (a 52-bit VA without DS) and above the maximum
@example(case=("TCR_EL1", False), value=0x8 | 16 << 16 | 2 << 30, mmfr0=None)
@example(case=("TCR_EL1", False), value=50 | 16 << 16 | 2 << 30 | 5 << 32, mmfr0=MMFR0_VARIANTS[2])
@example(case=("TCR_EL2", False), value=12, mmfr0=MMFR0_VARIANTS[1])
@example(case=("TCR_EL2", True), value=12 | 12 << 16 | 2 << 30, mmfr0=MMFR0_VARIANTS[3])
@example(case=("TCR_EL3", False), value=60, mmfr0=None)
def test_decode_tcr_agrees_with_walker(case, value, mmfr0):
    name, e2h = case
    regime, extra = CASES[case]
    if name == "TCR_EL3":
        value &= ~(1 << 38)             # TCR_EL3.D128 = 1 (VMSAv9-128): another geometry (tests/test_d128.py)
    rep = decode_register(name, value, e2h=e2h, id_registers=_ids(mmfr0))
    regs = {name: value, "SCTLR_EL1": 1, "SCTLR_EL2": 1, "SCTLR_EL3": 1, **extra, **_ids(mmfr0)}
    setup = setup_from_registers(regs, regime)
    regions = list(rep.derived["regions"].values())
    assert len(regions) == len(setup.ranges)
    for r, p in zip(regions, setup.ranges):
        assert r["start_level"] == p.start_level
        assert r["va_bits"] == p.iasize
        assert r["granule_shift"] == p.granule_shift
        assert r["pa_bits"] == p.oa_bits
        assert r.get("config_fault", "") == p.config_fault
        # a configuration fault is a warning, never silent
        assert bool(p.config_fault) == any(p.config_fault in w for w in rep.warnings if p.config_fault)
    assert rep.derived["pa_bits"] == setup.ranges[0].oa_bits


@settings(max_examples=300, deadline=None)
@given(value=REG, mmfr0=MMFR0)
# each kind of stage 2 configuration fault: T0SZ below the minimum, a reserved SL0, a start level
# inconsistent with the IPA size, an IPA wider than the output size, and none
@example(value=0x1008C, mmfr0=None)
@example(value=16 | 3 << 6 | 1 << 14 | 5 << 16, mmfr0=MMFR0_VARIANTS[2])
@example(value=16 | 0 << 6 | 5 << 16, mmfr0=MMFR0_VARIANTS[2])
@example(value=16 | 2 << 6 | 0 << 16, mmfr0=MMFR0_VARIANTS[2])
@example(value=24 | 1 << 6 | 2 << 16 | 1 << 31, mmfr0=MMFR0_VARIANTS[1])
def test_decode_vtcr_agrees_with_walker(value, mmfr0):
    from hypothesis import assume

    assume(not (value >> 38) & 1)      # VTCR_EL2.D128 = 1 (VMSAv9-128): another geometry (tests/test_d128.py)
    rep = decode_register("VTCR_EL2", value, id_registers=_ids(mmfr0))
    regs = {"TCR_EL1": 0x10, "SCTLR_EL1": 1, "HCR_EL2": 1, "VTCR_EL2": value, **_ids(mmfr0)}
    s2 = setup_from_registers(regs, Regime.EL10).s2
    d = rep.derived
    assert d["start_level"] == s2.start_level
    assert d["ipa_bits"] == s2.iasize
    assert d["pa_bits"] == s2.oa_bits
    assert d["granule_shift"] == s2.granule_shift
    assert d.get("config_fault", "") == s2.config_fault
    if s2.start_level is not None:
        assert d["concatenated_tables"] == s2.concatenated
    if s2.config_fault:
        assert any(s2.config_fault in w for w in rep.warnings)
    else:
        assert "configuration fault" not in rep.summary


def test_issue_example_vtcr_0x1008c():
    """The issue's value: decode used to claim a 52-bit IPA with 16 concatenated tables."""
    rep = decode_register("VTCR_EL2", 0x1008C)
    assert rep.derived["config_fault"] == "VTCR_EL2.T0SZ = 12 is below the minimum 16"
    assert any("below the minimum 16" in w for w in rep.warnings)
    assert any("ID_AA64MMFR0_EL1 not given" in n for n in rep.notes)
    assert "concatenated" not in rep.summary


def test_cli_id_reg_lifts_the_assumption_and_states_faults():
    from click.testing import CliRunner

    from pgwalk.cli import cli

    out = CliRunner().invoke(cli, ["decode", "VTCR_EL2", "0x1008c"])
    assert out.exit_code == 0
    assert "below the minimum 16" in out.output and "ID_AA64MMFR0_EL1 not given" in out.output
    # 40-bit IPA, start level 1, PARange 40 bits: 2 concatenated tables, no fault, nothing assumed of MMFR0
    out = CliRunner().invoke(cli, ["decode", "VTCR_EL2", "0x80023558", "--id-reg", "ID_AA64MMFR0_EL1=0x2"])
    assert out.exit_code == 0
    assert "start level 1 (2 concatenated tables); 40-bit PA" in out.output
    assert "warning" not in out.output and "ID_AA64MMFR0_EL1 not given" not in out.output
    out = CliRunner().invoke(cli, ["decode", "VTCR_EL2", "0x0", "--id-reg", "FOO=1"])
    assert out.exit_code == 2
