"""Issue 14: every command's --json output is JSON Lines with a schema version and hex
addresses, and every line validates against the JSON Schema shipped for its record type
(``pgwalk/schemas/NAME.json``, printed by ``pgwalk schema NAME``): on the samples, the shared
Linux dump and the kernel log corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import oracle_data
from cli_helpers import ROOT, SAMPLES, run, sample

jsonschema = pytest.importorskip("jsonschema")

from pgwalk.jsonrecords import RECORD_SCHEMAS, schema_text  # noqa: E402

_VALIDATORS: dict[str, object] = {}


def validator(name):
    if name not in _VALIDATORS:
        schema = json.loads(schema_text(name))
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATORS[name] = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return _VALIDATORS[name]


def check_lines(name, out, *, count=None):
    """Every line of ``out`` is one JSON record of type ``name``, valid against its schema."""
    lines = out.splitlines()
    assert lines, f"no {name} output"
    if count is not None:
        assert len(lines) == count
    recs = []
    for line in lines:
        assert line.startswith("{") and line.endswith("}"), line[:80]        # one record per line
        d = json.loads(line)
        assert d["schema"] == RECORD_SCHEMAS[name]
        errors = sorted(validator(name).iter_errors(d), key=lambda e: list(e.path))
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].path)}"
        recs.append(d)
    return recs


def test_schema_files_ship_for_every_record_type(capsys):
    files = {p.stem for p in (ROOT / "pgwalk" / "schemas").glob("*.json")}
    assert files == set(RECORD_SCHEMAS)
    for name, version in RECORD_SCHEMAS.items():
        s = json.loads(schema_text(name))
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert s["properties"]["schema"] == {"const": version, "description": "schema version of this record type"}
        assert "schema" in s["required"]
    toml = (ROOT / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in toml and "jsonschema" in toml
    rc, out, _ = run(["schema"], capsys)
    assert rc == 0 and [line.split()[0] for line in out.splitlines()] == sorted(RECORD_SCHEMAS)
    rc, out, _ = run(["schema", "translate"], capsys)
    assert rc == 0 and json.loads(out) == json.loads(schema_text("translate"))
    rc, _, err = run(["schema", "nosuch"], capsys)
    assert rc == 2 and err.startswith("pgwalk: error: no record type 'nosuch'")


def test_the_schemas_reject_what_they_should(capsys):
    """Not vacuous: integers for addresses, a wrong version, unknown keys and missing keys fail."""
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "0xffff800000201234"], capsys)
    d = json.loads(out)
    assert not list(validator("translate").iter_errors(d))
    for bad in ({**d, "va": int(d["va"], 16)}, {**d, "schema": 1}, {**d, "extra": 1},
                {k: v for k, v in d.items() if k != "pa"}, {**d, "steps": [{"level": "x"}]}):
        assert list(validator("translate").iter_errors(bad))
    rc, out, _ = run(["decode-esr", "0x96000045", "--json"], capsys)
    e = json.loads(out)
    assert not list(validator("esr").iter_errors(e))
    assert list(validator("esr").iter_errors({**e, "value": 0x96000045}))


SAMPLE_VAS = ["0xffff800000201234", "0x603000", "0x1000", "0xffff800000200000", "0x400010", "0x600008"]


@pytest.mark.parametrize("extra", [[], ["--trace"], ["--scalar"]])
@pytest.mark.parametrize("n", [6, 63, 64, 200])
def test_translate_lines_validate(n, extra, capsys, tmp_path):
    f = tmp_path / "vas.txt"
    f.write_text("".join(SAMPLE_VAS[i % len(SAMPLE_VAS)] + "\n" for i in range(n)))
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--batch", str(f), *extra], capsys)
    recs = check_lines("translate", out, count=n)
    assert any(r["ok"] for r in recs) and any(r["fault"] for r in recs)
    assert all(("steps" in r) == (extra == ["--trace"]) for r in recs)


@pytest.mark.parametrize("name", ["two_stage", "lpa2_52bit_4k", "s1_16k"])
def test_translate_other_samples_validate(name, capsys):
    vas = {"two_stage": ["0x401234", "0x402010", "0x8000000000"], "lpa2_52bit_4k": ["0xfabcdef012345", "0x1000"],
           "s1_16k": ["0x1000", "0xffff800000004000"]}[name]
    for extra in ([], ["--trace"]):
        check_lines("translate", run(["translate", *sample(name), "--json", *extra, *vas], capsys)[1], count=len(vas))
    check_lines("translate-reverse", run(["translate", *sample(name), "--json", "--reverse", "0x40000000"],
                                         capsys)[1], count=1)


def test_translate_reverse_validates(capsys):
    rc, out, _ = run(["translate", *sample("s1_4k_48bit"), "--json", "--reverse", "0x40201234", "0x1"], capsys)
    recs = check_lines("translate-reverse", out, count=2)
    assert recs[0]["count"] == len(recs[0]["mappings"]) > 0 and recs[1]["count"] == 0


def test_at_one_and_batch_validate(capsys):
    S = sample("s1_4k_48bit")
    check_lines("at", run(["at", "S1E1R", "0xffff800000201234", *S, "--json"], capsys)[1], count=1)
    check_lines("at", run(["at", "S1E1W", "0x603000", *S, "--json", "--hw-par", "0x1"], capsys)[1], count=1)
    rows = "".join(json.dumps(r) + "\n" for r in [
        {"op": "S1E1R", "va": "0xffff800000201234"}, {"op": "S1E0W", "va": "0x603000", "par": "0x809"},
        {"op": "S1E1R", "va": "0x1000", "id": "x"}, {"op": "S1E1W", "va": "0x400010", "pan": 1}] * 20)
    for extra in ([], ["--trace"], ["--scalar"]):
        recs = check_lines("at", run(["at", "--batch", "-", *S, "--json", *extra], capsys, stdin=rows)[1], count=80)
        assert all(("translation" in r) == (extra == ["--trace"]) for r in recs)


def test_af_updates_validate(capsys, tmp_path):
    """The trace's ``af_updates`` (HA leaves, FEAT_HAFT tables) in translate and at records."""
    from test_af_updates_cli import VA, _tree

    args, _regs, _mem = _tree(tmp_path)
    recs = check_lines("translate", run(["translate", hex(VA), *args, "--json", "--trace"], capsys)[1], count=1)
    assert recs[0]["af_updates"] and {u["table"] for u in recs[0]["af_updates"]} == {True, False}
    recs = check_lines("at", run(["at", "S12E1R", hex(VA), *args, "--json"], capsys)[1], count=1)
    assert recs[0]["translation"]["af_updates"]
    bad = dict(recs[0]["translation"]["af_updates"][0], extra=1)
    assert list(validator("translate").iter_errors({**recs[0]["translation"], "af_updates": [bad]}))


def test_dump_tree_af_updates_validate(capsys, tmp_path):
    """dump-tree's ``af_updates`` (range, entries and table records) on a two-stage HA + HAFT tree."""
    from test_af_updates_cli import _tree

    args, _regs, _mem = _tree(tmp_path)
    for view in (["--view", "ranges"], ["--view", "tree"], ["--view", "tree", "--stage", "2"]):
        recs = check_lines("dump-tree", run(["dump-tree", *args, "--json", *view], capsys)[1])
        ups = [u for r in recs if r["record"] != "summary" for u in r.get("af_updates") or ()]
        assert ups and {u["table"] for u in ups} == {True, False}, view
    table = next(r for r in recs if r["record"] == "table" and r["af_updates"])
    leaf = next(r for r in recs if r["record"] == "entries" and r["af_updates"])
    for rec in (table, leaf):
        bad = dict(rec["af_updates"][0], level="L1")
        assert list(validator("dump-tree").iter_errors({**rec, "af_updates": [bad]}))
    assert not list(validator("dump-tree").iter_errors({**leaf, "af_updates": None}))
    assert list(validator("dump-tree").iter_errors({**table, "af_updates": None}))


@pytest.mark.parametrize("view", [["--view", "ranges"], ["--view", "tree"], ["--view", "tree", "--no-merge"],
                                  ["--stats"], ["--invalid", "--view", "tree"]])
def test_dump_tree_validates(view, capsys):
    for name in ("s1_4k_48bit", "two_stage", "lpa2_52bit_4k"):
        rc, out, err = run(["dump-tree", *sample(name), "--json", *view], capsys)
        assert rc in (0, 1), err
        recs = check_lines("dump-tree", out)
        assert recs[-1]["record"] == "summary"


ESRS = ["0x96000045", "0x92000006", "0x8200000f", "0x5a000000", "0xbe000011", "0x2000000", "0x56000000",
        "0x9600004f", "0x93c08006", "0xf2000800", "0x1fe00000"]


@pytest.mark.parametrize("esr", ESRS)
def test_decode_esr_validates(esr, capsys):
    check_lines("esr", run(["decode-esr", esr, "--json"], capsys)[1], count=1)
    check_lines("esr", run(["decode-esr", esr, "--el", "2", "--far", "0xffff000012345678", "--hpfar", "0x123450",
                            "--json"], capsys)[1], count=1)
    check_lines("esr", run(["decode", "ESR_EL1", esr, "--json"], capsys)[1], count=1)


@pytest.mark.parametrize("reg,value", [("TCR_EL1", "0x25b5193519"), ("TCR_EL1", "0x015001f5b5503510"),
                                       ("SCTLR_EL1", "0x30d0199d"), ("PAR_EL1", "0xff00000040201b80"),
                                       ("PAR_EL1", "0x809"), ("VTCR_EL2", "0x80023559"), ("HCR_EL2", "0x80000001"),
                                       ("MAIR_EL1", "0xf0bb040044ff"), ("TTBR0_EL1", "0x1000040000000"),
                                       ("FAR_EL1", "0xffff000012345678")])
def test_decode_register_validates(reg, value, capsys):
    rc, out, err = run(["decode", reg, value, "--json"], capsys)
    assert rc == 0, err
    check_lines("register", out, count=1)


@pytest.mark.parametrize("args", [["0x40000000000703", "--level", "3"], ["0x40011003", "--level", "0"],
                                  ["0x60000080000f41", "--level", "2"], ["0x0", "--level", "1"],
                                  ["0x4ff", "--level", "3", "--stage", "2"]])
def test_decode_descriptor_validates(args, capsys):
    rc, out, err = run(["decode", "descriptor", *args, "--granule", "4k", "--json"], capsys)
    assert rc == 0, err
    check_lines("descriptor", out, count=1)


def _corpus():
    root = ROOT / "tests" / "data" / "kernlogs"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".log", ".txt")
                  and p.name != "README.md")


def test_decode_esr_log_validates_on_the_whole_corpus(capsys):
    """Every report of every log (the corpus and the hand-made logs) is one valid line."""
    files = _corpus()
    assert len(files) > 100
    total = 0
    for path in files:
        rc, out, err = run(["decode-esr", "--log", str(path), "--json"], capsys)
        if rc == 1 and not out:
            assert "no AArch64 exception report" in err, (path, err)
            continue
        recs = check_lines("esr-log", out)
        assert [r["index"] for r in recs] == list(range(len(recs))), path
        total += len(recs)
    assert total > 150


def test_decode_esr_log_with_an_image_validates(capsys, tmp_path):
    img = tmp_path / "ram.img"
    img.write_bytes(bytes(0x10000))
    rc, out, _ = run(["decode-esr", "--log", str(ROOT / "tests/data/kernlogs/journal-mixed.log"), "--image",
                      f"{img}@0x41850000", "--json"], capsys)
    recs = check_lines("esr-log", out)
    assert any("walk_comparison" in r for r in recs) and any("descriptors" in r for r in recs)


def test_the_shared_dump_validates(dump, capsys):
    check_lines("info", run(["info", "--json", dump], capsys)[1], count=1)
    vas = ["0xffff000001234567", "0xfffffbfffe800010", "0x400000", "0xffff800008000000", "0xffff000010000000"]
    check_lines("vtop", run(["vtop", dump, "--json", *vas], capsys)[1], count=len(vas))
    check_lines("ptov", run(["ptov", dump, "--json", "0x41234567", "0x80000000", "0xfffffffffffff000"],
                            capsys)[1], count=3)
    for extra in ([], ["--trace"]):
        recs = check_lines("translate", run(["translate", "-i", dump, "--json", *extra, *vas], capsys)[1],
                           count=len(vas))
        assert any("unknown_register" in r for r in recs)
        if extra:
            assert recs[0]["label"] == "linear map"
    regs = oracle_data.linux_registers()
    vas = [f"{0xffff000000000000 + i * 0x1234567:#x}" for i in range(100)]
    ttbr0 = ["--reg", f"TTBR0_EL1={regs['TTBR0_EL1']:#x}"] if regs else []
    check_lines("translate", run(["translate", "-i", dump, *ttbr0, "--json", *vas], capsys)[1], count=100)
    check_lines("translate-reverse", run(["translate", "-i", dump, "--json", "--reverse", "0x41234567"],
                                         capsys)[1], count=1)
    recs = check_lines("dump-tree", run(["dump-tree", "-i", dump, "--ttbr1", "--view", "ranges", "--json"],
                                        capsys)[1])
    assert any(r.get("label") for r in recs)
    check_lines("at", run(["at", "S1E1R", "0xffff000001234567", "-i", dump, "--json"], capsys)[1], count=1)
