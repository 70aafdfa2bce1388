"""``pgwalk at`` end to end: output, JSON schema, comparison verdicts, batches, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgwalk.at import at as lib_at
from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.formats.registers import PSTATE
from cli_helpers import in_a_pipe, run

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
KVA = "0xffff800000201234"




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
    (["at", "S1E1R", "notanumber"], "not a hexadecimal address"),
    (["at", "S1E1R"], "usage"),
    (["at", "S1E1R", KVA, "--hw-par", "0xzz"], "not a hexadecimal value"),
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


# --------------------------------------------------------------------------- vectorised batches
#
# From BULK_MIN_LINES lines on, ``pgwalk at --batch`` walks the lines that share register
# state, operation and PAN together (ATBatch.run_many, pgwalk.at_many.bulk_at); ``--scalar``
# runs one AT at a time.  Both must print the same bytes, exit with the same status and
# fail at the same line.  The tests force the vectorised walk on every group of two lines
# or more (the defaults leave small groups and small batches to the scalar path).

@pytest.fixture
def vectorise_all(monkeypatch):
    """Vectorise every group of 2+ lines, and count the lines bulk_at walked."""
    import pgwalk.at as at_mod
    import pgwalk.at_many as bulk_mod

    monkeypatch.setattr(at_mod, "_BULK_MIN_GROUP", 2)
    monkeypatch.setattr(at_mod, "_BULK_MIN_TOTAL", 0)
    walked = []
    real = bulk_mod.bulk_at

    def spy(*a, **k):
        r = real(*a, **k)
        walked.append(len(r.par))
        return r

    monkeypatch.setattr(bulk_mod, "bulk_at", spy)
    return walked


def both_ways(args, capsys, walked=None):
    """(rc, stdout, stderr) of the vectorised and the --scalar run; asserts they are identical."""
    n = len(walked) if walked is not None else 0
    got = run(args, capsys)
    if walked is not None:
        assert len(walked) > n, "the vectorised walk did not run"
    want = run([*args, "--scalar"], capsys)
    assert got[0] == want[0] and got[2] == want[2]
    assert got[1] == want[1]
    return got


def _el3_regs(b: TableBuilder) -> dict:
    from pgwalk.formats.registers import SCTLR, TCR_EL3

    tcr = TCR_EL3.encode(T0SZ=16, TG0=0, PS=5, SH0=3, IRGN0=1, ORGN0=1, RES1_23=1, RES1_31=1)
    return {"TCR_EL3": hex(tcr), "TTBR0_EL3": hex(b.ttbr_value()), "MAIR_EL3": "0xff",
            "SCTLR_EL3": hex(SCTLR.encode(M=1))}


def _synthetic_rows(b: TableBuilder, n: int = 600, seed: int = 7):
    """Lines with every kind of variation: ops, PAN, per-line registers (MAIR, TCR, a TTBR
    outside the image, EL3), captured PARs that match, mismatch, are 'exception' or odd
    (bit 11 clear), ids of every JSON type, comments and blank lines."""
    import random

    rng = random.Random(seed)
    regs, mem = b.registers(), b.memory()
    overrides = [None, {"MAIR_EL1": "0x04"}, {"MAIR_EL1": "0x44", "_comment": "x"},
                 {"TTBR0_EL1": "0x7000000000"},                       # tables outside the image
                 {"TCR_EL1": hex(regs["TCR_EL1"] | (1 << 7))},         # EPD0
                 {"PSTATE": hex(PSTATE["PAN"].put(0x3C5, 1))}, _el3_regs(b)]
    ops = ["S1E1R", "S1E0R", "S1E0W", "S1E1W", "S1E1RP", "S1E1WP", "S1E1A", "S12E1R"]
    vas = [0x10000, 0x11000, 0x12000, 0x13000, 0x10008, 0x14000, 0x1_0000_0000_0000, 0xFFFF_0000_0000_0000]
    ids = [None, None, "a", 7, 2.5, {"k": [1, "é"]}, [1, 2], True]
    rows = []
    for i in range(n):
        ov = overrides[rng.randrange(len(overrides))]
        op = "S1E3R" if ov is not None and "TCR_EL3" in ov and rng.random() < 0.8 else ops[rng.randrange(len(ops))]
        va = vas[rng.randrange(len(vas))]
        d = {"op": op, "va": hex(va) if rng.random() < 0.9 else va}
        if rng.random() < 0.5:
            d["pan"] = rng.choice([0, 1, True, False])
        if ov is not None:
            d["regs"] = ov
        ident = ids[rng.randrange(len(ids))]
        if ident is not None:
            d["id"] = ident
        kind = rng.random()
        if kind < 0.6:
            full = {**regs, **{k.upper(): int(v, 16) for k, v in (ov or {}).items() if not k.startswith("_")}}
            pan = d.get("pan")
            try:
                sw = lib_at(full, mem, op, va, pan=None if pan is None else bool(pan)).par
            except Exception:
                sw = None
            d["par"] = "exception" if sw is None else hex(sw)
            if sw is not None and rng.random() < 0.1:
                d["par"] = hex(sw & ~(1 << 11))                           # a warning, still a match
        elif kind < 0.75:
            d["par"] = hex(0xFF00000040301B80 if rng.random() < 0.5 else 0x80F)   # mismatches
        elif kind < 0.8:
            d["par"] = "exception"
        rows.append(json.dumps(d))
        if rng.random() < 0.02:
            rows.append(rng.choice(["", "# a comment", "   "]))
    return rows


@pytest.mark.parametrize("extra", [["--json"], ["--json", "--explain", "quick"], ["--json", "--pan"],
                                   ["--json", "--exec-el", "3"], [], ["--max-rows", "3", "--explain", "known"]])
def test_batch_vectorised_equals_scalar_synthetic(user_tree, capsys, tmp_path, vectorise_all, extra):
    args, b, _ = user_tree
    f = _write(tmp_path / "b.jsonl", _synthetic_rows(b))
    rc, out, _ = both_ways(["at", "--batch", f, *args, *extra], capsys, vectorise_all)
    assert rc == 1
    if "--json" in extra:
        verdicts = {json.loads(x)["verdict"] for x in out.splitlines()}
        assert verdicts == {"match", "mismatch", "no capture"}


def test_batch_vectorised_default_thresholds(user_tree, capsys, tmp_path):
    """Without forcing: a large batch in one register context is vectorised, the output the same."""
    import pgwalk.at as at_mod

    args, b, _ = user_tree
    regs, mem = b.registers(), b.memory()
    rows = []
    for i in range(5000):
        va = 0x10000 + (i % 6) * 0x1000 + (i & 0xFF8)
        op = ("S1E1R", "S1E0W", "S1E1RP")[i % 3]
        par = lib_at(regs, mem, op, va).par
        rows.append({"op": op, "va": hex(va), "id": i, "par": hex(par if i % 97 else par ^ (1 << 12))})
    f = _write(tmp_path / "big.jsonl", rows)
    assert len(rows) >= at_mod._BULK_MIN_TOTAL
    rc, out, _ = both_ways(["at", "--batch", f, *args, "--json"], capsys)
    assert rc == 1 and len(out.splitlines()) == 5000
    assert sum(json.loads(x)["verdict"] == "mismatch" for x in out.splitlines()) == len(range(0, 5000, 97))


def test_batch_vectorised_error_at_the_same_line(user_tree, capsys, tmp_path, vectorise_all):
    """An AT UNDEFINED at --exec-el: the lines before it are printed, then the same error."""
    args, _, _ = user_tree
    rows = [{"op": "S1E1R", "va": "0x10000"}] * 40 + [{"op": "S12E1R", "va": "0x10000"}] * 30
    rows[10:10] = [{"op": "S1E1W", "va": "0x11000"}] * 20
    f = _write(tmp_path / "e.jsonl", rows)
    rc, out, err = both_ways(["at", "--batch", f, *args, "--json", "--exec-el", "1"], capsys, vectorise_all)
    assert rc == 2 and "UNDEFINED at EL1" in err and len(out.splitlines()) == 60


@pytest.mark.parametrize("trace", [[], ["--trace"]])
def test_batch_vectorised_stdin_and_trace(user_tree, capsys, tmp_path, vectorise_all, trace):
    args, b, _ = user_tree
    rows = "\n".join(_synthetic_rows(b, 120, seed=3)) + "\n"
    got = run(["at", "--batch", "-", *args, "--json", *trace], capsys, stdin=rows)
    want = run(["at", "--batch", "-", *args, "--json", *trace, "--scalar"], capsys, stdin=rows)
    assert got == want and ("steps" in got[1]) == bool(trace)
    assert bool(vectorise_all) != bool(trace)              # --trace: every line through ATBatch.run


# --------------------------------------------------------------------------- the QEMU oracle batches

def _oracle():
    import oracle_at as O

    return O if O.available() else None


@pytest.mark.skipif(_oracle() is None, reason="QEMU AT oracle not present")
@pytest.mark.parametrize("batch", _oracle().batches() if _oracle() else [])
def test_batch_vectorised_equals_scalar_oracle(batch, capsys, tmp_path, vectorise_all):
    """Every vector of every oracle batch as one batch file over a sparse raw image of the
    batch's memory (as test_at_oracle drives the CLI): vectorised and scalar print the same bytes."""
    import struct

    O = _oracle()
    lines = []
    for v in O.vectors(batch):
        d = {"id": v["id"], "op": v["op"], "va": v["va"], "pan": v["pan"], "regs": v["regs"]}
        q = v["qemu"]
        if q["status"] == "ok":
            d["par"] = q["par"]
        elif q["status"] == "exception":
            d["par"] = "exception"
        lines.append(d)
    f = _write(tmp_path / f"{batch}.jsonl", lines)
    lo, hi = O.RAM
    img = tmp_path / f"{batch}.raw"
    with open(img, "wb") as fh:
        fh.truncate(hi - lo)
        for pa, value in sorted(O.words(batch).items()):
            fh.seek(pa - lo)
            fh.write(struct.pack("<Q", value))
    args = ["at", "--batch", str(f), "--json", "--explain", "known", "-i", f"{img}@{lo:#x}",
            "--reg", f"ID_AA64MMFR0_EL1={O.MMFR0:#x}", "--reg", "ID_AA64MMFR1_EL1=0x11010211122",
            "--reg", "ID_AA64MMFR2_EL1=0x1021011010011011"]
    rc, out, _ = both_ways(args, capsys, vectorise_all)
    assert len(out.splitlines()) == len(lines)
    assert sum(vectorise_all) >= len(lines) // 2           # most lines went through bulk_at


# ----------------------------------------------------------------------------- messages (issue 11, item 8)

def _par_fault(fst: int, s: int = 0, ptw: int = 0) -> str:
    return hex(1 | (fst << 1) | (ptw << 8) | (s << 9))


def test_impossible_capture_is_named_not_explained(capsys):
    """All ones: an FST no AT reports and a stage 2 fault with stage 2 off.  Nothing is re-walked
    ("stage 2 level None fault" was the answer), and no Python None reaches the text."""
    rc, out, _ = run(["at", "S1E1R", "0xffff800000201000", *sample(), "--hw-par", "0xffffffffffffffff"], capsys)
    assert rc == 1 and "None" not in out
    text = " ".join(out.split())
    assert "the captured FST 0x3f is unknown 0x3f (reserved): no AT reports it" in text
    assert "stage 2 fault (S = 1), but the EL1&0 regime's stage 2 is off" in text
    assert "stale-descriptor" not in text
    rc, out, _ = run(["at", "S1E1R", "0xffff800000201000", *sample(), "--hw-par", _par_fault(0x07, s=0, ptw=1),
                      "--json"], capsys)
    kinds = [r["kind"] for r in json.loads(out)["reasons"]]
    assert kinds == ["impossible-capture"]


def test_no_python_none_in_any_explanation(capsys):
    """Every FST with every S/PTW, on a stage 1 and a two-stage sample, in text."""
    cases = [(sample(), "0xffff800000201000", "S1E1R"), (sample(), "0x603000", "S1E0W"),
             (sample("two_stage"), "0x0", "S12E1R")]
    for args, va, op in cases:
        for fst in range(64):
            for s, ptw in ((0, 0), (1, 0), (1, 1)):
                rc, out, err = run(["at", op, va, *args, "--hw-par", _par_fault(fst, s, ptw), "--no-trace"], capsys)
                assert rc in (0, 1) and "None" not in out + err, (op, fst, s, ptw, out)


def test_one_el_regime_permissions_are_labelled_with_its_el(capsys, tmp_path):
    regs = ["--reg", "TCR_EL2=0x80803510", "--reg", "TTBR0_EL2=0x40000000", "--reg", "SCTLR_EL2=1",
            "--reg", "MAIR_EL2=0xf0bb040044ff", "--reg", "HCR_EL2=0x80000000"]
    img = ["-i", f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000"]
    rc, out, _ = run(["translate", *img, *regs, "--regime", "el2", "0x401000", "--no-trace"], capsys)
    assert rc == 0 and "EL2 r-x" in out and "EL1 r" not in out
    rc, out, _ = run(["translate", *img, *regs, "--regime", "el2", "0x401000", "--json"], capsys)
    assert json.loads(out)["permissions"] == {"el2": "r-x"}
    f = tmp_path / "vas.txt"
    f.write_text("".join(f"{0x400000 + 0x1000 * i:#x}\n" for i in range(100)))
    rc, out, _ = run(["translate", *img, *regs, "--regime", "el2", "--batch", str(f), "--json"], capsys)
    assert json.loads(out.splitlines()[1])["permissions"] == {"el2": "r-x"}      # the bulk path too
    rc, out, _ = run(["dump-tree", *img, *regs, "--regime", "el2"], capsys)
    assert "EL2 r-x" in out
    rc, _, err = run(["translate", *img, *regs, "--regime", "el2", "--el", "1", "0x401000"], capsys)
    assert rc == 2 and "the EL2 regime translates accesses from EL2 only" in err
    el3 = ["--reg", "TCR_EL3=0x80803510", "--reg", "TTBR0_EL3=0x40000000", "--reg", "SCTLR_EL3=1",
           "--reg", "MAIR_EL3=0xf0bb040044ff"]
    rc, out, _ = run(["translate", *img, *el3, "--regime", "el3", "0x600000", "--no-trace"], capsys)
    assert rc == 0 and "EL3 rw-" in out


def test_overlay_fault_par_in_text_json_and_batch(capsys, tmp_path):
    """Issue 17: an overlay Permission fault (PIR entry 0b0101 RW-with-overlay, POR entry 0b0001 R;
    ASL ``AArch64.S1CheckPermissions``, ``AArch64.EncodePAR``) shows PAR_EL1.Overlay in the text, in
    the JSON decode and in every line of a ``--batch`` as in a single AT (that the vectorised AT
    itself agrees is tests/test_pie_faults.py's check: a batch group falls back to scalar ATs
    when its first lane disagrees)."""
    b = TableBuilder(granule=4096, ia_bits=48)
    for i in range(80):
        b.map(0x10000 + i * 0x1000, 0x8000_0000 + i * 0x1000, 0x1000, S1Attrs(ap=0b00))
    base, _ = b.write_raw(tmp_path / "t.img")
    regs = {k: hex(v) for k, v in b.registers().items()}
    regs.update({"TCR2_EL1": "0xa", "PIR_EL1": hex(0x5555_5555_5555_5555), "PIRE0_EL1": "0", "POR_EL1": "0x11111111"})
    (tmp_path / "r.json").write_text(json.dumps(regs))
    args = ["-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "r.json")]
    rc, out, err = run(["at", "S1E1W", "0x10000", *args], capsys)
    assert "(Overlay)" in out, (rc, out, err)
    rc, out, _ = run(["at", "S1E1W", "0x10000", *args, "--json"], capsys)
    d = json.loads(out)
    par = int(d["par"], 16)
    assert d["decode"]["Overlay"] == 1 and par >> 14 & 1 and d["decode"]["FST"] == "0x0f"
    f = _write(tmp_path / "b.jsonl", [{"op": op, "va": hex(0x10000 + i * 0x1000)}
                                      for i in range(80) for op in ("S1E1W", "S1E1R")])
    rc, out, _ = run(["at", "--batch", f, *args, "--json"], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 160
    assert all(int(r["par"], 16) == par and r["decode"]["Overlay"] == 1 for r in rows if r["op"] == "S1E1W")
    assert all(not int(r["par"], 16) & 1 for r in rows if r["op"] == "S1E1R")


def test_one_at_into_a_pipe_is_written_without_rich():
    # the lines rich's console prints in a pipe (TTY_COMPATIBLE=0 asks for it), made without
    # importing rich: the head, PAR_EL1 and its fields, the walk, the comparison, the reasons
    opts = sample()
    cases = [["S1E1R", "0xffff800000201234"], ["S1E1W", "0xffff800000201234", "--hw-par", "0x80f"],
             ["S1E1R", "0xffff800000201234", "--hw-par", "0xff00000040201b81", "--explain", "full"],
             ["S1E1RP", "0xffff800000201234", "--pan", "--no-trace"]]
    texts = []
    for args in cases:
        plain, imported = in_a_pipe(["at", *args, *opts])
        assert imported == []
        assert plain.startswith(f"AT {args[0]}, ") and "PAR_EL1 = 0x" in plain and "\x1b[" not in plain
        console, imported = in_a_pipe(["at", *args, *opts], TTY_COMPATIBLE="0")
        assert imported and plain == console
        texts.append(plain)
    assert "stage  lvl" in texts[0] and "stage  lvl" not in texts[3]          # the walk, unless --no-trace
    for text in texts[1:3]:
        assert "software vs captured PAR_EL1" in text and "verdict: MISMATCH" in text and "likely reasons:" in text
