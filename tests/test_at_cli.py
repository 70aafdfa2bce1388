"""``pgwalk at`` end to end: output, JSON schema, comparison verdicts, batches, exit codes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from pgwalk.at import at as lib_at
from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.cli import main
from pgwalk.formats.registers import PSTATE

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
KVA = "0xffff800000201234"


def run(args, capsys, stdin=None):
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        rc = main(args)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return rc, out, err


def sample(name="s1_4k_48bit"):
    return ["-i", f"{SAMPLES / (name + '.img')}@0x40000000", "--regs", str(SAMPLES / f"{name}.regs.json")]


@pytest.fixture(scope="module")
def user_tree(tmp_path_factory):
    """A small EL1&0 tree: AP = 00/01/10/11 pages at 0x10000.. and its image + register file."""
    d = tmp_path_factory.mktemp("at")
    b = TableBuilder(granule=4096, ia_bits=48)
    for i, ap in enumerate((0b00, 0b01, 0b10, 0b11)):
        b.map(0x10000 + i * 0x1000, 0x8000_0000 + i * 0x1000, 0x1000, S1Attrs(ap=ap, uxn=1, pxn=1))
    base, _ = b.write_raw(d / "t.img")
    regs = {k: hex(v) for k, v in b.registers().items()}
    (d / "t.regs.json").write_text(json.dumps(regs))
    return ["-i", f"{d / 't.img'}@{base:#x}", "--regs", str(d / "t.regs.json")], b, d


def test_one_op_text_output(capsys):
    rc, out, _ = run(["at", "S1E1R", KVA, *sample()], capsys)
    assert rc == 0
    assert "PAR_EL1 = 0xff00000040201b80" in out
    assert "ATTR" in out and "Inner Shareable" in out          # the field decode
    assert "0x40013008" in out and "page" in out               # the per-level trace


def test_prefix_and_case(capsys):
    rc1, out1, _ = run(["at", "at s1e1r", KVA, *sample(), "--json"], capsys)
    rc2, out2, _ = run(["at", "S1E1R", KVA, *sample(), "--json"], capsys)
    assert rc1 == rc2 == 0 and json.loads(out1)["par"] == json.loads(out2)["par"]


def test_json_schema(capsys):
    rc, out, _ = run(["at", "S1E0R", KVA, *sample(), "--json"], capsys)
    d = json.loads(out)
    assert rc == 0                                               # a fault is not a mismatch
    assert d["op"] == "S1E0R" and d["va"] == KVA and d["verdict"] == "no capture"
    assert d["decode"]["F"] == 1 and d["decode"]["FST"] == "0x0f" and d["decode"]["S"] == 0
    assert d["translation"]["fault"]["type"] == "permission"
    assert [s["level"] for s in d["translation"]["steps"]] == [0, 1, 2, 3]


def test_hw_par_match_and_mismatch(capsys):
    rc, out, _ = run(["at", "S1E1R", KVA, *sample(), "--hw-par", "0xff00000040201980", "--json"], capsys)
    d = json.loads(out)
    assert rc == 0 and d["match"] and d["diff"] == []                 # NS differs: not compared
    rc, out, _ = run(["at", "S1E1R", KVA, *sample(), "--hw-par", "0xff00000040301b80", "--json"], capsys)
    d = json.loads(out)
    assert rc == 1 and not d["match"] and d["diff"] == [{"field": "PA", "software": "0x40201000",
                                                          "hardware": "0x40301000"}]
    assert d["reasons"][0]["kind"] == "stale-descriptor" and d["reasons"][0]["confirmed"]
    assert d["captured_decode"]["PA"] == "0x40301000"


def test_hw_par_text_output(capsys):
    rc, out, _ = run(["at", "S1E1W", KVA, *sample(), "--hw-par", "0xff00000040201b80", "--no-trace"], capsys)
    assert rc == 1
    assert "MISMATCH" in out and "differs" in out and "likely reasons" in out
    assert "S1E1R gives exactly the captured PAR" in out


def test_hw_par_exception(capsys):
    rc, out, _ = run(["at", "S1E1R", KVA, *sample(), "--hw-par", "exception", "--json"], capsys)
    d = json.loads(out)
    assert rc == 1 and d["captured"] == "exception" and d["diff"][0]["field"] == "exception"


def test_pan_flag_and_pstate(user_tree, capsys):
    args, b, d = user_tree
    va = "0x11000"                                             # AP = 01: EL0 accessible
    rc, out, _ = run(["at", "S1E1RP", va, *args, "--json"], capsys)
    assert json.loads(out)["decode"]["F"] == 0
    rc, out, _ = run(["at", "S1E1RP", va, *args, "--json", "--pan"], capsys)
    assert json.loads(out)["decode"]["FST"] == "0x0f"
    cpsr = PSTATE["PAN"].put(0x3C5, 1)
    rc, out, _ = run(["at", "S1E1WP", va, *args, "--json", "--reg", f"CPSR={cpsr:#x}"], capsys)
    assert json.loads(out)["pan"] == 1 and json.loads(out)["decode"]["F"] == 1
    rc, out, _ = run(["at", "S1E1WP", va, *args, "--json", "--reg", f"CPSR={cpsr:#x}", "--no-pan"], capsys)
    assert json.loads(out)["decode"]["F"] == 0
    rc, out, _ = run(["at", "S1E1R", va, *args, "--json", "--pan"], capsys)
    assert json.loads(out)["decode"]["F"] == 0                 # S1E1R ignores PAN


@pytest.mark.parametrize("args,msg", [
    (["at", "S1E9R", KVA], "unknown AT operation"),
    (["at", "S1E1R", "notanumber"], "not a number"),
    (["at", "S1E1R"], "usage"),
    (["at", "S1E1R", KVA, "--hw-par", "0xzz"], "not a number"),
])
def test_bad_input_exit_2(args, msg, capsys):
    rc, out, err = run([*args, *sample()], capsys)
    assert rc == 2 and msg in err and not out


# --------------------------------------------------------------------------- batches

def _write(path: Path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def test_batch_json_lines(user_tree, capsys, tmp_path):
    args, b, _ = user_tree
    regs, mem = b.registers(), b.memory()
    ok = lib_at(regs, mem, "S1E1R", 0x10000).par
    ok1 = lib_at(regs, mem, "S1E1R", 0x11000).par
    f = _write(tmp_path / "b.jsonl", [
        {"op": "S1E1R", "va": "0x10000", "par": hex(ok)},
        "# a comment",
        {"op": "S1E0R", "va": "0x10000"},
        {"op": "S1E1RP", "va": "0x11000", "pan": 1, "par": hex(ok1)},
        {"op": "S1E1R", "va": "0x10000", "regs": {"MAIR_EL1": "0x04"}, "par": hex(ok), "id": "ctx2"},
        {"op": "S1E1R", "va": "0x10000", "par": hex(ok)},
    ])
    rc, out, err = run(["at", "--batch", f, *args, "--json"], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert rc == 1 and len(rows) == 5
    assert [r["line"] for r in rows] == [1, 3, 4, 5, 6]
    assert rows[0]["verdict"] == "match" and rows[1]["verdict"] == "no capture"
    assert rows[2]["verdict"] == "mismatch" and rows[2]["reasons"][0]["kind"] == "pan"
    assert rows[3]["id"] == "ctx2" and rows[3]["decode"]["ATTR"] == "0x04" and not rows[3]["match"]
    assert rows[4]["match"]                                    # the override was for its line only
    for r in rows:
        assert {"op", "va", "par", "decode"} <= set(r)


def test_batch_summary_and_exit_0(user_tree, capsys, tmp_path):
    args, b, _ = user_tree
    regs, mem = b.registers(), b.memory()
    rows = [{"op": op, "va": hex(va), "par": hex(lib_at(regs, mem, op, va).par)}
            for op in ("S1E1R", "S1E0W") for va in (0x10000, 0x11000, 0x12000)]
    rc, out, _ = run(["at", "--batch", _write(tmp_path / "s.jsonl", rows), *args], capsys)
    assert rc == 0 and "match" in out and "6" in out and "mismatch" not in out


def test_batch_from_stdin_without_base_registers(user_tree, capsys):
    args, b, _ = user_tree
    regs = {k: hex(v) for k, v in b.registers().items()}
    line = json.dumps({"op": "S1E1R", "va": "0x12000", "regs": regs})
    rc, out, err = run(["at", "--batch", "-", args[0], args[1], "--json"], capsys, stdin=line + "\n")
    assert rc == 0, err
    assert json.loads(out)["decode"]["PA"] == "0x80002000"


@pytest.mark.parametrize("row,msg", [
    ("{not json", "b.jsonl:2: not valid JSON"),
    ('{"op": "S1E1R"}', "b.jsonl:2: needs"),
    ('{"op": "S1E1R", "va": "0x1", "regs": {"NOPE_EL1": 1}}', "b.jsonl:2: unknown register"),
    ('{"op": "S9", "va": "0x1"}', "b.jsonl:2: unknown AT operation"),
])
def test_batch_bad_line_exit_2_before_output(user_tree, capsys, tmp_path, row, msg):
    args, _, _ = user_tree
    f = _write(tmp_path / "b.jsonl", ['{"op": "S1E1R", "va": "0x10000"}', row])
    rc, out, err = run(["at", "--batch", f, *args, "--json"], capsys)
    assert rc == 2 and msg in err and out == ""


def test_batch_rejects_op_arguments(user_tree, capsys, tmp_path):
    args, _, _ = user_tree
    f = _write(tmp_path / "b.jsonl", ['{"op": "S1E1R", "va": "0x10000"}'])
    rc, _, err = run(["at", "S1E1R", "0x1", "--batch", f, *args], capsys)
    assert rc == 2 and "--batch" in err


def test_batch_trace_option(user_tree, capsys, tmp_path):
    args, _, _ = user_tree
    f = _write(tmp_path / "b.jsonl", ['{"op": "S1E1R", "va": "0x10000"}'])
    rc, out, _ = run(["at", "--batch", f, *args, "--json", "--trace"], capsys)
    assert len(json.loads(out)["translation"]["steps"]) == 4
