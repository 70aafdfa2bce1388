"""Text output (issue 14): stdout holds only records, notes go to stderr; the streamed
bulk text lines are the scalar result lines; pipes get plain unwrapped lines; no hex value
is ever cut at any terminal width."""

from __future__ import annotations

import json
import random
import re

import pytest

from cli_helpers import batch_file as _batch, run, sample
from oracle_data import linux_oracle_dir, linux_translations, linux_vmcore_elf


def _mixed_vas(n, seed=4):
    """Mapped kernel pages, user addresses, faults, addresses far outside the tables."""
    rng = random.Random(seed)
    base = [0xFFFF800000201234, 0x603000, 0x1000, 0xFFFF800000200000, 0x40201234]
    return base + [rng.choice((0xFFFF800000200000 + rng.randrange(0x10_0000), rng.randrange(1 << 48),
                               0x4000_0000 + rng.randrange(0x100_0000))) for _ in range(n - len(base))]


# --------------------------------------------------------------------------- stdout is data

@pytest.mark.parametrize("trace", [["--no-trace"], ["--no-trace", "--scalar"], ["--json"], ["--csv"]])
def test_batch_stdout_has_one_line_per_address_and_notes_on_stderr(trace, capsys, tmp_path):
    vas = _mixed_vas(100)
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), *trace, "--batch", str(_batch(tmp_path, vas))], capsys)
    lines = out.splitlines()
    assert len(lines) == len(vas) + ("--csv" in trace)
    assert "note:" not in out
    assert "pgwalk: note: ID_AA64MMFR1/2_EL1 not given" in err
    if "--no-trace" in trace:
        assert [int(line.split()[0], 16) for line in lines] == vas


def test_notes_of_one_translation_go_to_stderr(capsys):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "0xffff800000201234"], capsys)
    assert rc == 0 and "note:" not in out and "-> PA 0x40201234" in out
    assert all(line.startswith("pgwalk: note: ") for line in err.splitlines())


def test_reverse_text_notes_on_stderr(capsys):
    rc, out, err = run(["translate", *sample("s1_4k_48bit"), "--reverse", "0x40201234"], capsys)
    assert "note:" not in out and "pgwalk: note:" in err


# --------------------------------------------------------------------------- bulk text == scalar text

@pytest.mark.parametrize("name", ["s1_4k_48bit", "two_stage", "s1_16k", "s1_64k", "s2_concat", "lpa2_52bit_4k"])
def test_bulk_text_lines_are_the_scalar_result_lines(name, capsys, tmp_path):
    f = _batch(tmp_path, _mixed_vas(300))
    rc, bulk, _ = run(["translate", *sample(name), "--no-trace", "--batch", str(f)], capsys)
    rc2, scalar, _ = run(["translate", *sample(name), "--no-trace", "--scalar", "--batch", str(f)], capsys)
    assert rc == rc2
    assert bulk.splitlines() == scalar.splitlines() and len(bulk.splitlines()) == 300


def test_bulk_text_two_stage_ipa_equal_to_va():
    """A two-stage line leaves out an IPA equal to the VA (stage 1 off); lanes with and
    without that equality in one block keep their own lines."""
    import numpy as np

    from pgwalk.builder import two_stage
    from pgwalk.bulk import translate_many
    from pgwalk.lines import LineFormatter
    from pgwalk.params import setup_from_registers
    from pgwalk.render import result_text

    ts = two_stage()
    ts.map(0x1000_0000, 0x1000_0000, 0x20_0000, pa=0x5000_0000)       # VA == IPA
    ts.map(0x2000_0000, 0x1020_0000, 0x20_0000, pa=0x5020_0000)
    ts.s2.map(0x8000_0000, 0x4001_0000, 0x10000)                       # the stage 1 tables
    setup = setup_from_registers(ts.registers())
    vas = np.array([0x1000_1000, 0x2000_1000, 0x1000_2000, 0x2010_0000, 0x1010_0000], dtype=np.uint64)
    res = translate_many(setup, ts.memory(), vas)
    got = LineFormatter("text", text_line=result_text).format(res).decode().splitlines()
    assert got == [result_text(res.to_dict(i)) for i in range(len(vas))]
    assert got[0].startswith("0x10001000 -> PA 0x50001000") and "-> IPA 0x10201000 -> PA 0x50201000" in got[1]


def test_bulk_text_on_the_linux_dump(capsys, tmp_path):
    path, entries = linux_vmcore_elf(), linux_translations()
    if path is None or entries is None:
        pytest.skip("oracle dump not available")
    # kernel VAs: the dump gives TTBR1 only (a batch with user VAs takes the scalar path)
    vas = [int(e["va"], 16) for e in entries if (int(e["va"], 16) >> 55) & 1]
    f = _batch(tmp_path, vas)
    rc, bulk, _ = run(["translate", "-i", str(path), "--no-trace", "--batch", str(f)], capsys)
    rc2, scalar, _ = run(["translate", "-i", str(path), "--no-trace", "--scalar", "--batch", str(f)], capsys)
    assert rc == rc2 and len(bulk.splitlines()) == len(vas)
    # the kernel's region label after the VA, in the bulk lines as in the scalar ones
    assert bulk == scalar and "[kernel image]" in bulk


def test_decode_esr_notes_and_warnings_on_stderr(capsys):
    rc, out, err = run(["decode-esr", "0x96000045", "--el", "1", "--far", "0xffff800008036000"], capsys)
    assert rc == 0 and "note:" not in out and "warning:" not in out
    assert err and all(line.startswith(("pgwalk: note: ", "pgwalk: warning: ")) for line in err.splitlines())


def test_decode_esr_log_notes_name_their_report(capsys):
    oracle = linux_oracle_dir()
    log = oracle / "serial.log" if oracle is not None else None
    if log is None or not log.exists():
        pytest.skip("oracle log not available")
    rc, out, err = run(["decode-esr", "--log", str(log)], capsys)
    assert "note:" not in out
    assert any(re.match(r"pgwalk: note: report \d+: ", line) for line in err.splitlines())


# --------------------------------------------------------------------------- pipes and files

_DRAWING = re.compile("[\u2500-\u257f]")        # box drawing (borders, rules)


def test_decode_esr_log_in_a_pipe_is_plain_lines(capsys):
    """``decode-esr --log serial.log | grep "ESR 0x..."``: one line per record, no rules or
    borders, nothing wrapped (capsys is not a terminal)."""
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "serial.log").exists():
        pytest.skip("oracle log not available")
    rc, out, _ = run(["decode-esr", "--log", str(oracle / "serial.log")], capsys)
    assert not _DRAWING.search(out)
    heads = [line for line in out.splitlines() if re.match(r"report \d+ \(", line)]
    esr = [line for line in out.splitlines() if re.match(r"ESR 0x[0-9a-f]{16} \(from the .*\): EC 0x", line)]
    assert heads and esr and len(esr) <= len(heads)
    # each logged headline stays whole: it names the ESR and the fault on one line
    logged = [line for line in out.splitlines() if "unhandled exception:" in line]
    source = (oracle / "serial.log").read_text(errors="replace")
    assert logged and all(line in source for line in logged)


def test_decode_esr_and_decode_in_a_pipe_have_no_borders_and_no_wrapping(capsys):
    rc, out, _ = run(["decode-esr", "0x96000045", "--far", "0xffff800008036000"], capsys)
    assert rc == 0 and not _DRAWING.search(out)
    assert re.search(r"^EA +9 +0x0 +0: always 0 for aborts other than External aborts$", out, re.M)
    assert not any(line != line.rstrip() for line in out.splitlines())
    rc, out, _ = run(["decode", "TCR_EL1", "0x1001f5b5503510"], capsys)
    assert rc == 0 and not _DRAWING.search(out) and "derived" in out


def test_info_in_a_pipe_has_no_borders_and_no_wrapping(capsys):
    path = linux_vmcore_elf()
    if path is None:
        pytest.skip("oracle dump not available")
    rc, out, err = run(["info", str(path)], capsys)
    assert rc == 0 and not _DRAWING.search(out)
    line = next(x for x in out.splitlines() if x.startswith("VMCOREINFO: kernel"))
    assert "swapper_pg_dir 0x" in line                      # the whole record on one line
    assert all(x.startswith("pgwalk: note: ") for x in err.splitlines())


@pytest.mark.parametrize("argv,env,escapes", [
    (["--color", "always"], {}, True),
    (["--color", "always"], {"NO_COLOR": "1"}, True),      # the option wins over the environment
    (["--color", "never"], {}, False),
    ([], {"NO_COLOR": "1"}, False),
    ([], {}, False),                                        # auto: not a terminal
])
def test_color_option_and_no_color(argv, env, escapes, capsys, monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if not env:
        monkeypatch.delenv("NO_COLOR", raising=False)
    for cmd in (["decode-esr", "0x96000045"], ["translate", *sample("s1_4k_48bit"), "0xffff800000201234"]):
        rc, out, _ = run([*argv, *cmd], capsys)
        assert rc == 0 and ("\x1b[" in out) == escapes
        assert not _DRAWING.search(out)


# --------------------------------------------------------------------------- narrow terminals

_HEX = re.compile(r"0x[0-9a-fA-F]+")


def _json_values(obj, out=None) -> set[int]:
    """Every number in a JSON document: integers, and each 0x... value inside its strings."""
    out = set() if out is None else out
    if isinstance(obj, bool):
        return out
    if isinstance(obj, int):
        out.add(obj)
    elif isinstance(obj, str):
        out.update(int(t, 16) for t in _HEX.findall(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _json_values(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _json_values(v, out)
    return out


_WIDE_COMMANDS = [
    ["translate", *sample("s1_4k_48bit"), "0xffff800000201234", "0x603000"],
    ["translate", *sample("two_stage"), "0x401234", "0x8000000000"],
    ["translate", *sample("lpa2_52bit_4k"), "0xfabcdef012345"],
    ["translate", *sample("s2_concat"), "0xabcde12345"],
    ["at", "S1E1W", "0xffff800000201234", *sample("s1_4k_48bit"), "--hw-par", "0xff00000040201b80"],
    ["decode-esr", "0x96000045", "--far", "0xffff800008036000", "--el", "1"],
    ["info", "DUMP"],
]


@pytest.mark.parametrize("columns", [60, 80, 120, 200])
@pytest.mark.parametrize("argv", _WIDE_COMMANDS, ids=lambda a: " ".join(x for x in a if not x.startswith(("-", "/"))
                                                                        and "@" not in x)[:40])
def test_no_hex_value_is_cut_at_any_terminal_width(argv, columns, capsys, monkeypatch):
    """On a terminal COLUMNS wide, every 0x... token printed is a whole value of the same
    command's JSON (nothing is cut, nothing ellipsised), and no line is wider than the terminal."""
    from pgwalk.cmd import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.delenv("NO_COLOR", raising=False)
    if argv[0] == "info":
        path = linux_vmcore_elf()
        if path is None:
            pytest.skip("oracle dump not available")
        argv = ["info", str(path)]
    rc, text, _ = run(["--color", "never", *argv], capsys)
    # translate's JSON carries the walk's steps only with --trace (the text shows them by default)
    rc_json, js, _ = run([*argv, "--json", *(["--trace"] if argv[0] == "translate" else [])], capsys)
    assert rc == rc_json
    values: set[int] = set()
    for line in js.splitlines() if argv[0] not in ("decode-esr", "info") else [js]:
        _json_values(json.loads(line), values)
    tokens = _HEX.findall(text)
    assert tokens and "…" not in text
    cut = [t for t in tokens if int(t, 16) not in values]
    assert not cut, (columns, cut)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= columns


@pytest.mark.parametrize("name", ["vmcore.elf", "vmcore.kdump-zlib", "max-zstd-d31", "raw@base"])
def test_info_in_a_pipe_is_the_console_text_without_rich(name):
    """info into a pipe: the lines rich's console of a pipe prints (TTY_COMPATIBLE=0 asks for it:
    tables, the kernel layout, VMCOREINFO, CPUs), made without importing rich."""
    from pathlib import Path

    from cli_helpers import SAMPLES, in_a_pipe

    oracle = linux_oracle_dir()
    spec = {"vmcore.elf": linux_vmcore_elf(),
            "vmcore.kdump-zlib": oracle / "vmcore.kdump-zlib" if oracle else None,
            "max-zstd-d31": oracle.parent / "makedumpfile-public" / "max-zstd-d31" if oracle else None,
            "raw@base": f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000"}[name]
    if spec is None or not Path(str(spec).split("@")[0]).exists():
        pytest.skip(f"{name} is not here")
    for extra in ([], ["--all-regions"]):
        plain, imported = in_a_pipe(["info", "-i", str(spec), *extra])
        assert imported == [] and "memory: " in plain and "\x1b[" not in plain
        console, imported = in_a_pipe(["info", "-i", str(spec), *extra], TTY_COMPATIBLE="0")
        assert imported and plain == console
    if name != "raw@base":
        assert "kernel layout" in plain and "VMCOREINFO: kernel " in plain


def test_plain_and_rich_presentations_show_the_same_text(capsys, monkeypatch):
    """output.PlainOut writes what output.RichOut's console of a pipe writes, a dump's control
    characters included (rich's Text drops BEL, BS, VT, FF and CR; so does the plain one)."""
    from pgwalk.cmd.output import PlainOut, RichOut, stdout_console

    def draw(out):
        out.line(("utsname", "bold"), ": Linux\r\x07 6.1\x08", " x")
        out.table([("a\rb", "1", ("ok\x0c", "green")), ("long name", "22", "")], header=("n", "v", "s"),
                  right=(1,), title="t\x0bitle", borders=False)
        out.line()

    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    draw(PlainOut())
    plain = capsys.readouterr().out
    draw(RichOut(stdout_console()))
    assert capsys.readouterr().out == plain
    assert "\r" not in plain and "\x07" not in plain and "utsname: Linux 6.1 x" in plain


def test_dump_tree_stats_in_a_pipe_is_the_console_text_without_rich():
    from cli_helpers import in_a_pipe

    cases = [["dump-tree", *sample("s1_4k_48bit"), "--stats"]]
    dump = linux_vmcore_elf()
    if dump is not None:                    # a walk a limit stops: its last line
        cases += [["dump-tree", "-i", str(dump), "--stats"], ["dump-tree", "-i", str(dump), "--max-tables", "3"]]
    for args in cases:
        plain, imported = in_a_pipe(args)
        assert imported == [] and "\x1b[" not in plain
        console, imported = in_a_pipe(args, TTY_COMPATIBLE="0")
        assert plain == console
        assert ("total mapped" in plain) == ("--stats" in args)
    if dump is not None:
        assert plain.splitlines()[-1].startswith("stopped after 3 tables: limit reached")
