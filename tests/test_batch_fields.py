"""``translate --csv --fields LIST``: the columns named, in that order, and nothing else computed.

Every selected output is checked against the full ``--csv`` output of the same run (the
columns picked by name with the csv module), on the samples (stage 1, two stages with stage 2
faults and S1PTW faults, --stages, --access) and on the shared Linux dump; and the vectorised
path against the scalar one (--scalar), which is itself checked against the walker elsewhere.
"""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys

import numpy as np
import pytest

import pgwalk.bulk
import pgwalk.lines
from cli_helpers import batch_file as _batch, run, sample
from oracle_data import linux_translations, linux_vmcore_elf
from pgwalk.bulk import iter_translate, mark_contents, translate_many
from pgwalk.lines import LineFormatter
from pgwalk.report import CSV_COLUMNS

#: column lists that reach each kind of line key: addresses alone, with ok, with the fault
#: columns, with the contents flag, with the attribute columns; orders other than the header's
SELECTIONS = [
    ("va", "pa"), ("pa", "va"), ("va",), ("ipa",), ("ok", "va", "ipa", "pa", "fault_ipa"),
    ("fault_ipa", "va"), ("fault", "fsc", "va", "fault_level", "fault_stage", "s1ptw", "not_in_image"),
    ("va", "pa", "contents_in_image"), ("contents_in_image",), ("size", "va"),
    ("permissions", "attributes", "memtype", "shareability", "par_attr", "pa"),
    tuple(reversed(CSV_COLUMNS)),
]


def _mixed_vas(n, seed=15):
    """The samples' mapped pages and blocks, holes, user and kernel ranges, far addresses."""
    rng = random.Random(seed)
    base = [0xFFFF800000201234, 0x603000, 0x1000, 0x401234, 0x402010, 0x403000, 0x404000, 0x6ABCDE,
            0x10000008, 0x8000000000, 0xFFFF000052345678, 0xFFFF800010000018, 0xFFFF800000210000]
    return base + [rng.choice((0xFFFF800000200000 + rng.randrange(0x10_0000), rng.randrange(1 << 48),
                               0x400000 + rng.randrange(0x40_0000), 0x8000000000 + rng.randrange(1 << 30),
                               0xFFFF000000000000 + rng.randrange(1 << 40)))
                   for _ in range(n - len(base))]


def _columns(text: str) -> tuple[list[str], list[dict[str, str]]]:
    rd = csv.DictReader(io.StringIO(text))
    return list(rd.fieldnames or []), list(rd)


def _picked(full: str, fields) -> str:
    """The full CSV output with only ``fields``, in that order (csv module both ways)."""
    header, rows = _columns(full)
    assert header == list(CSV_COLUMNS)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for row in rows:
        w.writerow([row[f] for f in fields])
    return buf.getvalue()


# --------------------------------------------------------------------------- usage

def test_fields_help_lists_the_header_names(capsys):
    rc, out, err = run(["translate", "--fields", "help"], capsys)        # no image needed
    assert rc == 0 and err == ""
    assert out.splitlines() == list(CSV_COLUMNS)


@pytest.mark.parametrize("fields,says", [
    ("va,phys", "unknown field 'phys'"), ("VA", "unknown field 'VA'"), ("va,,pa", "an empty field name"),
    ("", "an empty field name"), ("pa,va,pa", "'pa' given twice"),
])
def test_bad_fields_one_line_exit_2(fields, says, capsys, tmp_path):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--csv", "--fields", fields, "0x401abc"], capsys)
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgwalk: error: ") and says in lines[0]
    if "unknown" in says or "empty" in says:
        assert "valid fields: " + ",".join(CSV_COLUMNS) in lines[0]


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--no-trace"]])
def test_fields_needs_csv(fmt, capsys):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), *fmt, "--fields", "va,pa", "0x401abc"], capsys)
    assert rc == 2 and out == ""
    assert err.strip() == "pgwalk: error: --fields selects the columns of --csv output: add --csv"


def test_help_documents_fields(capsys):
    rc, out, _err = run(["translate", "--help"], capsys)
    assert rc == 0 and "--fields LIST" in out and "--fields help" in out


@pytest.mark.parametrize("word,expect,absent", [
    ("--fields ", ["va", "pa", "contents_in_image"], []),
    ("--fields fa", ["fault", "fault_level", "fault_stage", "fault_ipa"], ["va"]),
    ("--fields va,p", ["va,pa", "va,par_attr", "va,permissions"], ["va,va"]),
    ("--fields pa,va,", ["pa,va,ok", "pa,va,ipa"], ["pa,va,pa", "pa,va,va"]),
])
def test_bash_completion_of_fields(word, expect, absent):
    words = "pgwalk translate " + word
    env = {**os.environ, "_PGWALK_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    r = subprocess.run([sys.executable, "-m", "pgwalk.cli"], capture_output=True, text=True, env=env, timeout=60)
    got = [ln.split(",", 1)[1] for ln in r.stdout.splitlines() if ln.startswith("plain,")]
    assert r.returncode == 0 and set(expect) <= set(got) and not set(absent) & set(got), got


# --------------------------------------------------------------------------- the CLI on the samples

@pytest.mark.parametrize("name,extra", [("s1_4k_48bit", []), ("s1_4k_48bit", ["--access", "write", "--el", "0"]),
                                        ("two_stage", []), ("two_stage", ["--access", "write"]),
                                        ("two_stage", ["--stages", "1"]), ("s2_concat", [])])
def test_selected_columns_are_the_full_outputs(name, extra, capsys, tmp_path):
    """Bulk (300 addresses) and scalar (--scalar) --fields outputs are the full output's columns."""
    f = _batch(tmp_path, _mixed_vas(300))
    base = ["translate", *sample(name), *extra, "--batch", str(f), "--csv"]
    rc, full, _ = run(base, capsys)
    rc_scalar, full_scalar, _ = run(base + ["--scalar"], capsys)
    assert full == full_scalar and rc == rc_scalar
    _header, rows = _columns(full)
    assert len(rows) == 300
    if name == "two_stage" and not extra:           # the samples reach what the selections are about
        assert {r["fault_stage"] for r in rows} >= {"", "1", "2"} and any(r["fault_ipa"] for r in rows)
        assert any(r["s1ptw"] == "true" for r in rows)
    for fields in SELECTIONS:
        rc2, out, _ = run(base + ["--fields", ",".join(fields)], capsys)
        assert rc2 == rc and out == _picked(full, fields), fields
        rc3, out3, _ = run(base + ["--fields", ",".join(fields), "--scalar"], capsys)
        assert rc3 == rc and out3 == out, fields


def test_all_fields_in_header_order_is_the_default(capsys, tmp_path):
    f = _batch(tmp_path, _mixed_vas(200))
    base = ["translate", *sample("two_stage"), "--batch", str(f), "--csv"]
    _rc, full, _ = run(base, capsys)
    _rc, same, _ = run(base + ["--fields", ",".join(CSV_COLUMNS)], capsys)
    assert full.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert same == full


def test_reverse_csv_keeps_the_target_first(capsys):
    args = ["translate", *sample("s1_4k_48bit"), "--reverse", "--csv", "0x40201234", "0x80001abc", "0x1"]
    rc, full, _ = run(args, capsys)
    rc2, out, _ = run(args + ["--fields", "pa,va,ok"], capsys)
    assert rc == rc2 == 1
    rows = list(csv.reader(io.StringIO(full)))
    assert rows[0] == ["target", *CSV_COLUMNS] and len(rows) > 2
    want = [[r[0], r[1 + CSV_COLUMNS.index("pa")], r[1 + CSV_COLUMNS.index("va")], r[1 + CSV_COLUMNS.index("ok")]]
            for r in rows]
    assert list(csv.reader(io.StringIO(out))) == [["target", "pa", "va", "ok"]] + want[1:]


# --------------------------------------------------------------------------- the formatter

def _sample_result(name, n=400, **kw):
    from pgwalk.cmd.common import load_context
    from pgwalk.params import setup_from_registers

    opts = sample(name)
    ctx = load_context((opts[1],), opts[3], (), None, None, None)
    setup = setup_from_registers(ctx.registers)
    vas = np.array(_mixed_vas(n), dtype=np.uint64)
    return setup, ctx.memory, vas


@pytest.mark.parametrize("name", ["s1_4k_48bit", "two_stage"])
def test_formatter_columns_over_blocks(name):
    """One formatter with columns over blocks of several sizes (layouts met in earlier blocks,
    each key kind): the full formatter's rows, picked."""
    setup, mem, vas = _sample_result(name)
    whole = mark_contents(translate_many(setup, mem, vas), mem)
    full = LineFormatter("csv").header() + LineFormatter("csv").format(whole)
    for fields in SELECTIONS:
        want = _picked(full.decode(), fields).encode()
        for block in (1, 7, 150, 1000):
            f = LineFormatter("csv", columns=fields, buffers=2)
            got = f.header() + b"".join(f.format(mark_contents(r, mem)) for r in iter_translate(setup, mem, vas,
                                                                                               block=block))
            assert got == want, (fields, block)


def test_formatter_rejects_bad_columns():
    for bad in ((), ("va", "va"), ("phys",)):
        with pytest.raises(ValueError):
            LineFormatter("csv", columns=bad)
    with pytest.raises(ValueError):
        LineFormatter("json", columns=("va",))


def test_unselected_columns_are_not_computed(monkeypatch, capsys, tmp_path):
    """--fields va,pa neither builds the descriptor line key nor looks up the contents flag
    (the work of the attribute and contents columns); the default output does both."""
    def refused(*_a, **_k):
        raise AssertionError("computed for a column not selected")

    f = _batch(tmp_path, _mixed_vas(300))
    base = ["translate", *sample("s1_4k_48bit"), "--batch", str(f), "--csv"]
    _rc, full, _ = run(base, capsys)
    monkeypatch.setattr(pgwalk.lines, "_line_key", refused)
    monkeypatch.setattr(pgwalk.bulk, "mark_contents", refused)
    for fields in (("va", "pa"), ("ok", "fault", "fsc", "fault_ipa", "va")):
        _rc, out, err = run(base + ["--fields", ",".join(fields)], capsys)
        assert "Traceback" not in err and out == _picked(full, fields)
    with pytest.raises(AssertionError, match="computed for a column not selected"):
        run(base, capsys)


# --------------------------------------------------------------------------- the Linux dump

@pytest.fixture(scope="module")
def dump():
    path = linux_vmcore_elf()
    if path is None:
        pytest.skip("the shared Linux dump is not available")
    return path


def _kernel_vas(n=20000, seed=15):
    """QEMU's probes (kernel half: the dump gives only TTBR1) and addresses near them."""
    probes = [int(e["va"], 16) for e in linux_translations() or [] if (int(e["va"], 16) >> 55) & 1]
    rng = random.Random(seed)
    return probes + [rng.choice(probes) + rng.randrange(-(1 << 24), 1 << 24) & (1 << 64) - 1
                     for _ in range(n - len(probes))]


def test_linux_dump_fields_agree_with_the_full_output(dump, capsys, tmp_path):
    vas = _kernel_vas()
    f = _batch(tmp_path, vas)
    base = ["translate", "-i", str(dump), "--batch", str(f), "--csv"]
    rc, full, _ = run(base, capsys)
    _header, rows = _columns(full)
    assert len(rows) == len(vas)
    assert {r["ok"] for r in rows} == {"true", "false"} and {r["contents_in_image"] for r in rows} >= {"true"}
    for fields in (("va", "pa"), ("pa", "va", "contents_in_image"), ("fault", "fsc", "va"),
                   ("va", "size", "permissions")):
        rc2, out, _ = run(base + ["--fields", ",".join(fields)], capsys)
        assert rc2 == rc and out == _picked(full, fields), fields


def test_linux_dump_unknown_register_line(dump, capsys):
    """A user address of the kernel-only dump is not walked (TTBR0_EL1 unknown): its row, picked."""
    args = ["translate", "-i", str(dump), "--csv", "0x1000", "0xffff000000001000"]
    rc, full, _ = run(args, capsys)
    rc2, out, _ = run(args + ["--fields", "fault,va,ok"], capsys)
    assert rc == rc2 == 1
    assert out == _picked(full, ("fault", "va", "ok"))
    assert out.splitlines()[1] == "unknown TTBR0_EL1,0x1000,false"
