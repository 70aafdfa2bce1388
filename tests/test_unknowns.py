"""Unknowns said as unknowns (issue 11, item 5): a register nobody gave is unknown, not 0.

A register file without MAIR: attributes are unknown (AttrIndx n, MAIR not given), never
Device-nGnRnE (what a MAIR of 0 would say).  The unknown-TTBR0 cases on the real dump are
in test_linux_cli.py.
"""

from __future__ import annotations

import json

from cli_helpers import SAMPLES, run

VA = "0xffff800000201234"
NO_MAIR = ["-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", "--reg", "TCR_EL1=0x15b5103510",
           "--reg", "TTBR1_EL1=0x40010000", "--reg", "TTBR0_EL1=0x1000040000000", "--reg", "SCTLR_EL1=1"]


def test_translate_without_mair_reports_attributes_unknown(capsys):
    rc, out, err = run(["translate", *NO_MAIR, VA], capsys)
    assert rc == 0 and "-> PA 0x40201234" in out
    assert "attributes unknown (AttrIndx 0, MAIR not given)" in out
    assert "Device" not in out and "nGnRnE" not in out
    assert "pgwalk: note: MAIR_EL1 not given" in err     # the setup note (stderr) says why
    rc, out, _ = run(["translate", *NO_MAIR, "--json", "--trace", VA], capsys)
    d = json.loads(out)
    assert d["ok"] and d["attributes"] is None and d["attributes_unknown"] == "AttrIndx 0, MAIR not given"
    assert d["s1"]["attr_index"] == 0 and d["s1"]["attributes"] is None


def test_translate_with_mair_still_decodes_attributes(capsys):
    rc, out, _ = run(["translate", *NO_MAIR, "--reg", "MAIR_EL1=0xf0bb040044ff", "--json", VA], capsys)
    d = json.loads(out)
    assert d["attributes"]["description"] == "Normal Write-Back RWA" and "attributes_unknown" not in d


def test_bulk_translate_without_mair_reports_attributes_unknown(tmp_path, capsys):
    batch = tmp_path / "vas.txt"
    batch.write_text("\n".join([VA] * 80) + "\n")
    rc, out, _ = run(["translate", *NO_MAIR, "--json", "--batch", str(batch)], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(rows) == 80
    assert all(r["attributes"] is None and r["attributes_unknown"] == "AttrIndx 0, MAIR not given" for r in rows)


def test_at_without_mair_cannot_encode_the_par(capsys):
    rc, out, err = run(["at", "S1E1R", VA, *NO_MAIR], capsys)
    assert rc == 2 and "MAIR_EL1 is unknown" in err and "PAR_EL1" in err and "Traceback" not in err


def test_dump_tree_without_mair_shows_no_device_attributes(capsys):
    rc, out, err = run(["dump-tree", *NO_MAIR, "--ttbr1", "--view", "tree", "--json"], capsys)
    assert rc == 0 and "nGnRnE" not in out and "Device" not in out and "Normal" not in out
    rc, out, err = run(["dump-tree", *NO_MAIR, "--reg", "MAIR_EL1=0xf0bb040044ff", "--ttbr1", "--view", "tree",
                        "--json"], capsys)
    assert rc == 0 and "Normal Write-Back RWA" in out
