"""Stage 2 alone (issue 14): ``translate --stages 2`` and ``dump-tree --stage 2`` need only what stage 2
reads (VTCR_EL2, VTTBR_EL2, the ID registers), never TCR_EL1, SCTLR_EL1 or MAIR_EL1."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hostile_cli import cli  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
IMG = f"{SAMPLES / 'two_stage.img'}@0x40000000"
FULL = SAMPLES / "two_stage.regs.json"
IPA = "0x80000000"          # the stage 1 tables' IPA: mapped by stage 2


def _stage2_only(tmp_path: Path, keep=("VTCR_EL2", "VTTBR_EL2", "ID_AA64MMFR0_EL1")) -> Path:
    regs = {k: v for k, v in json.loads(FULL.read_text()).items() if k in keep}
    p = tmp_path / "s2.json"
    p.write_text(json.dumps(regs))
    return p


def test_translate_stage2_alone_needs_no_tcr(tmp_path):
    s2 = _stage2_only(tmp_path)
    rc_full, full, _ = cli("translate", "--stages", "2", "--no-trace", "-i", IMG, "--regs", FULL, IPA)
    rc, out, err = cli("translate", "--stages", "2", "--no-trace", "-i", IMG, "--regs", s2, IPA)
    assert rc == rc_full == 0, err
    assert out.splitlines()[0] == full.splitlines()[0] and "-> PA 0x40010000" in out
    for word in ("TCR_EL1", "SCTLR_EL1", "MAIR_EL1"):
        assert word not in out + err
    assert "HCR_EL2 not given: the VTTBR_EL2 tree is walked as asked" in out + err


def test_both_stages_still_need_tcr(tmp_path):
    s2 = _stage2_only(tmp_path, keep=("VTCR_EL2", "VTTBR_EL2", "ID_AA64MMFR0_EL1", "HCR_EL2", "SCTLR_EL1"))
    rc, _out, err = cli("translate", "-i", IMG, "--regs", s2, "0x401234")
    assert rc == 2 and "TCR_EL1 is needed" in err


def test_stage2_alone_without_vtcr_says_what_is_missing(tmp_path):
    s1 = _stage2_only(tmp_path, keep=("TCR_EL1", "TTBR0_EL1", "SCTLR_EL1"))
    rc, _out, err = cli("translate", "--stages", "2", "-i", IMG, "--regs", s1, IPA)
    assert rc == 2 and "stage 2 alone needs VTCR_EL2" in err


def test_dump_tree_stage2_alone_needs_no_tcr(tmp_path):
    s2 = _stage2_only(tmp_path)
    rc_full, full, _ = cli("dump-tree", "--stage", "2", "--view", "ranges", "-i", IMG, "--regs", FULL)
    rc, out, err = cli("dump-tree", "--stage", "2", "--view", "ranges", "-i", IMG, "--regs", s2)
    assert rc == rc_full == 0, err
    ranges = [line for line in out.splitlines() if "->" in line]
    assert ranges and ranges == [line for line in full.splitlines() if "->" in line]
    assert "TCR_EL1" not in out + err
