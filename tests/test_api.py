"""The public API (:mod:`pgwalk.target`): ``pgwalk.open`` and :class:`~pgwalk.target.Target`.

Every answer is checked against the CLI's JSON for the same inputs (the CLI is a
view over the same library; the two must not drift), on the shipped samples and
on the shared Linux dump.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import numpy as np
import pytest

import oracle_data
import pgwalk
import pgwalk.target
from cli_helpers import ROOT, SAMPLES, run, sample
from pgwalk.errors import InputError, ReadError, RegisterError, UnknownRegister
from pgwalk.tree import run_record

S1 = "s1_4k_48bit"
#: the sample's table of examples (samples/README.md), faults included
S1_PROBES = [0xffff800000201234, 0xffff800000456789, 0xffff000052345678, 0xffff000080600010,
             0xffff800010000018, 0xffff800000210000, 0x401abc, 0x601008, 0x602000, 0x603000,
             0x9ffff8, 0x7ffffffff000, 0x200000, 0x40000000, 0x100000000000]
#: one address of each sample (its README example)
EXAMPLES = {"s1_4k_48bit": 0xffff800000201234, "s1_16k": 0x414020, "s1_64k": 0x32345678,
            "lpa2_52bit_4k": 0xfabcdef012345, "s2_concat": 0xabcde12345, "two_stage": 0x401234}


def _open(name: str, **kw) -> pgwalk.target.Target:
    return pgwalk.open([f"{SAMPLES / (name + '.img')}@0x40000000"], regs=str(SAMPLES / f"{name}.regs.json"), **kw)


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def _without_notes(d: dict, *more: str) -> dict:
    return {k: v for k, v in d.items() if k != "notes" and k not in more}


# --------------------------------------------------------------------------- import cost


def test_import_pgwalk_imports_no_numpy_rich_or_click():
    code = ("import sys, pgwalk\n"
            "pgwalk.open, pgwalk.Target, pgwalk.PgwalkError\n"
            "print(sorted(m for m in ('numpy', 'rich', 'click') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        pgwalk.no_such_name          # noqa: B018
    assert set(pgwalk.__all__) <= set(dir(pgwalk))
    for name in pgwalk.__all__:
        assert getattr(pgwalk, name) is not None


# --------------------------------------------------------------------------- docstrings


@pytest.mark.parametrize("module", [pgwalk, pgwalk.target], ids=lambda m: m.__name__)
def test_docstring_examples_run(module, monkeypatch):
    monkeypatch.chdir(ROOT)                 # the examples name samples/ relative to the checkout
    res = doctest.testmod(module, extraglobs={"pgwalk": pgwalk},
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > (0 if module is pgwalk else 25)
    assert res.failed == 0


def _readme_library_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Library\n"):]
    section = section[:section.index("\n## ", 5)]
    return [block.split("\n```", 1)[0] for block in section.split("```python\n")[1:]]


def test_readme_library_example_on_the_samples_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    (samples, _dump) = _readme_library_examples()
    assert "samples/" in samples and "vmcore" not in samples
    _run_doctest(samples, "README samples")


def _run_doctest(text: str, name: str) -> None:
    test = doctest.DocTestParser().get_doctest(text, {"pgwalk": pgwalk}, name, "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 5


def test_every_public_function_has_a_drgn_shaped_docstring():
    for name in ("open", "resolve_registers"):
        doc = getattr(pgwalk.target, name).__doc__
        assert ">>>" in doc and ":param" in doc and ":returns:" in doc and ":raises" in doc, name
    for name in ("translate", "translate_many", "at", "tree", "read"):
        doc = getattr(pgwalk.target.Target, name).__doc__
        assert ">>>" in doc and ":param" in doc and ":returns:" in doc and ":raises" in doc, name


# --------------------------------------------------------------------------- samples vs the CLI


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_translate_equals_the_cli_json_on_each_sample(name, capsys):
    va = EXAMPLES[name]
    rc, out, err = run(["translate", *sample(name), "--json", "--trace", hex(va)], capsys)
    cli = json.loads(out)
    with _open(name) as t:
        r = t.translate(va)
        d = r.to_dict()
        assert _without_notes(d) == _without_notes(cli)
        # the CLI's notes are the target's (setup) notes plus the walk's own
        assert set(d["notes"]) <= set(cli["notes"])
        assert set(cli["notes"]) <= set(d["notes"]) | set(t.notes) | set(t.setup().notes)
        assert r.ok == (rc == 0) == cli["ok"]
        assert (None if r.pa is None else hex(r.pa)) == cli["pa"]
        assert r.permissions == cli["permissions"]


def test_translate_probes_with_accesses_equal_the_cli(capsys):
    with _open(S1) as t:                # (one Target: each call's arguments decide its walk, whatever came before)
        for access, el, pan in ((None, None, False), ("read", 0, False), ("write", 1, False), ("exec", 0, False),
                                ("read", 1, True), ("read", 1, False), (None, None, False)):
            args = (["--access", access] if access else []) + (["--el", str(el)] if el is not None else []) + \
                (["--pan"] if pan else [])
            _rc, out, _err = run(["translate", *sample(S1), "--json", *args, *map(hex, S1_PROBES)], capsys)
            cli = _lines(out)
            api = [t.translate(va, access=access, el=el, pan=pan).to_dict(trace=False) for va in S1_PROBES]
            assert api == cli


def test_translate_many_equals_the_cli_bulk_json(tmp_path, capsys):
    vas = np.array(S1_PROBES * 8, dtype=np.uint64)          # 120 addresses: the CLI walks them vectorised
    batch = tmp_path / "vas.txt"
    batch.write_text("".join(f"{int(v):#x}\n" for v in vas))
    _rc, out, _err = run(["translate", *sample(S1), "--json", "--batch", str(batch)], capsys)
    cli = _lines(out)
    with _open(S1) as t:
        m = t.translate_many(vas)
        assert [m.to_dict(i) for i in range(len(vas))] == cli
        assert m.ok.tolist() == [d["ok"] for d in cli]
        one = [t.translate(int(v)) for v in vas[:len(S1_PROBES)]]
        assert m.pa[:len(one)][m.ok[:len(one)]].tolist() == [r.pa for r in one if r.ok]
        assert m.fault_level[:len(one)].tolist() == [r.fault.level if r.fault else 0 for r in one]


@pytest.mark.parametrize("op", ["S1E1R", "S1E1W", "S1E0R", "S1E0W"])
def test_at_equals_the_cli_json(op, capsys):
    from pgwalk.at import result_to_dict

    with _open(S1) as t:
        for va in S1_PROBES[:10]:
            _rc, out, _err = run(["at", op, hex(va), *sample(S1), "--json"], capsys)
            cli = json.loads(out)
            p = t.at(op, va)
            d = result_to_dict(p, trace=True, setup=t.setup(p.regime))
            assert d["par"] == cli["par"] and d["decode"] == cli["decode"] == pgwalk.par_decode(p.par)
            d["translation"].pop("notes"), cli["translation"].pop("notes")
            assert d == cli


@pytest.mark.parametrize("name,args,kw", [
    (S1, ["--ttbr1"], {"ttbr": 1}),
    (S1, ["--ttbr0"], {"ttbr": 0}),
    ("two_stage", ["--ttbr0"], {"ttbr": 0}),
    ("two_stage", ["--stage", "2"], {"stage": "2"}),
    ("s2_concat", [], {"stage": "2"}),
])
def test_tree_ranges_equal_dump_tree_json(name, args, kw, capsys):
    rc, out, err = run(["dump-tree", *sample(name), "--json", "--view", "ranges", *args], capsys)
    assert rc == 0, err
    cli = [d for d in _lines(out) if d["record"] == "range"]
    with _open(name) as t:
        (tree,) = t.tree_params(**kw)
        walk = t.tree(**kw)
        api = [run_record(r, tree) for r in walk]
        for d in cli:
            d.pop("schema"), d.pop("label", None)
        assert api == cli and api
        assert walk.summary.tables == _lines(out)[-1]["tables"]


def test_tree_nodes_equal_the_tree_view_json(capsys):
    rc, out, err = run(["dump-tree", *sample(S1), "--json", "--view", "tree", "--ttbr1"], capsys)
    cli = [d for d in _lines(out) if d["record"] != "summary"]
    for d in cli:
        d.pop("schema")
    with _open(S1) as t:
        assert list(t.tree(ttbr=1, nodes=True)) == cli


def test_tree_of_an_unknown_ttbr_is_an_error_and_default_skips_it():
    with _open(S1, TTBR0_EL1=0) as t:           # given as 0: known
        assert [p.name for p in t.tree_params()] == ["TTBR0_EL1", "TTBR1_EL1"]
    regs = json.loads((SAMPLES / f"{S1}.regs.json").read_text())
    del regs["TTBR0_EL1"]
    with pgwalk.open(f"{SAMPLES / (S1 + '.img')}@0x40000000", regs=regs) as t:
        with pytest.raises(UnknownRegister):
            t.tree(ttbr=0)
        assert [p.name for p in t.tree_params()] == ["TTBR1_EL1"]
        walk = t.tree()
        assert [r.va_start >> 55 for r in walk] and all(r.va_start >> 55 for r in walk)
        assert walk.notes == ["TTBR0_EL1 unknown: that tree is not shown (give it with --reg NAME=VALUE)"]
        with pytest.raises(UnknownRegister):
            t.translate(0x401abc)
        with pytest.raises(UnknownRegister):
            t.translate_many([0xffff800000201234, 0x401abc])
        assert t.translate_many([0xffff800000201234]).ok.all()


def test_read_equals_the_cli_raw_bytes():
    va = 0xffff000040010000                        # the TTBR1 root table, through the linear map
    with _open(S1) as t:
        data = t.read(va, 0x40)
        assert data == t.read(0x40010000, 0x40, physical=True)
        assert int.from_bytes(data[0:8], "little") == t.memory.read_u64(0x40010000)
        with pytest.raises(ReadError) as e:
            t.read(0xffff800000210000, 8)           # the hole after the kernel text
        assert e.value.address == 0xffff800000210000 and "translation fault" in e.value.reason
        pieces = list(t.read_pieces(0xffff800000210000 - 8, 16))
        assert [(p.address, p.ok) for p in pieces] == [(0xffff80000020fff8, False), (0xffff800000210000, False)]
        assert "not in the image" in pieces[0].why and "translation fault" in pieces[1].why
    cli = subprocess.run([sys.executable, "-m", "pgwalk", "read", *sample(S1), hex(va), "0x40", "--raw"],
                         capture_output=True, check=True, cwd=ROOT)
    assert cli.stdout == data


# --------------------------------------------------------------------------- register sources


def test_named_registers_win_key_by_key():
    with _open(S1, TTBR1_EL1="0x40000000", mair_el1=0) as t:
        regs = json.loads((SAMPLES / f"{S1}.regs.json").read_text())
        assert t.registers["TTBR1_EL1"] == 0x40000000 and t.registers["MAIR_EL1"] == 0
        assert t.registers["TCR_EL1"] == int(regs["TCR_EL1"], 16)
        # TTBR1 now points at the user tree's root: the kernel address walks other tables
        assert t.translate(0xffff800000201234).pa != 0x40201234


def test_shortcut_equals_the_cli_shortcut(capsys):
    args = ["--granule", "4k", "--va-bits", "48", "--root", "0x40010000"]
    img = f"{SAMPLES / (S1 + '.img')}@0x40000000"
    _rc, out, _err = run(["translate", "-i", img, *args, "--json", "0xffff800000201234"], capsys)
    with pgwalk.open(img, granule="4k", va_bits=48, root=0x40010000) as t:
        assert t.translate(0xffff800000201234).to_dict(trace=False) == json.loads(out)
    with pytest.raises(InputError):
        pgwalk.open(img, granule="4k", va_bits=48)


def test_bad_inputs_raise_pgwalk_errors(tmp_path):
    with pytest.raises(RegisterError):
        pgwalk.open(f"{SAMPLES / (S1 + '.img')}@0x40000000")             # no registers at all
    with pytest.raises(RegisterError):
        _open(S1, TCR_ELL1=1)                                            # unknown name
    with pytest.raises(pgwalk.ImageError):
        pgwalk.open(str(tmp_path / "absent.img"), TCR_EL1=0)
    with pytest.raises(InputError):
        pgwalk.open()
    with _open(S1) as t, pytest.raises(InputError):
        t.translate("not_a_symbol")
    with _open(S1) as t, pytest.raises(InputError):
        t.vtop(0xffff000001234567)                                       # no VMCOREINFO in a sample


def test_close_unmaps_the_memory():
    with _open(S1) as t:
        mem = t.memory
        assert mem.read_u64(0x40010800) == 0x40011003
    with pytest.raises(ValueError):
        mem.read_u64(0x40010800)


def test_paths_as_str_bytes_and_pathlib():
    import os

    for img in (f"{SAMPLES / (S1 + '.img')}@0x40000000", os.fsencode(f"{SAMPLES / (S1 + '.img')}@0x40000000")):
        with pgwalk.open(img, regs=SAMPLES / f"{S1}.regs.json") as t:
            assert t.translate("ffff800000201234").pa == 0x40201234


def test_a_memory_object_given_is_not_closed():
    from pgwalk.images import open_images

    mem = open_images([f"{SAMPLES / (S1 + '.img')}@0x40000000"])
    with pgwalk.open(mem, regs=str(SAMPLES / f"{S1}.regs.json")) as t:
        assert t.translate(0xffff800000201234).pa == 0x40201234
    assert mem.read_u64(0x40010800) == 0x40011003
    mem.close()


# --------------------------------------------------------------------------- a live target


def test_live_target_answers_as_the_image_and_is_restored_on_close(capsys):
    from fake_stub import FakeStub

    img = (SAMPLES / f"{S1}.img").read_bytes()
    regs = json.loads((SAMPLES / f"{S1}.regs.json").read_text())
    stub_regs = {k: int(v, 16) for k, v in regs.items() if not k.startswith("_")}
    stub_regs["SCTLR"] = stub_regs.pop("SCTLR_EL1")
    stub = FakeStub({0x40000000: img}, stub_regs)
    try:
        _rc, out, _err = run(["translate", "--gdb", stub.address, "--json", "--trace", *map(hex, S1_PROBES)], capsys)
        assert stub.phy_mode == 0
        cli = _lines(out)
        with pgwalk.open(gdb=stub.address, MAIR_EL1=regs["MAIR_EL1"]) as t:
            assert stub.phy_mode == 1
            assert any("registers from the gdb stub" in n for n in t.notes)
            assert any("MAIR_EL1" in n and "arguments" in n for n in t.notes)
            api = [t.translate(va).to_dict() for va in S1_PROBES]
            with _open(S1) as offline:          # (a live target holds every page; the sample only tables)
                assert [_without_notes(d, "contents_in_image") for d in api] == [
                    _without_notes(offline.translate(va).to_dict(), "contents_in_image") for va in S1_PROBES]
        assert stub.phy_mode == 0                   # the stub's memory mode is back
        assert [_without_notes(d) for d in api] == [_without_notes(d) for d in cli]
        with pytest.raises(InputError):
            pgwalk.open("x.img", gdb=stub.address)
    finally:
        stub.close()


# --------------------------------------------------------------------------- the shared Linux dump


def test_dump_registers_come_from_vmcoreinfo_as_the_cli_takes_them(dump, capsys):
    from pgwalk.cmd.common import load_context

    with pgwalk.open(dump) as t:
        assert t.vmcoreinfo is not None and "TTBR0_EL1" not in t.registers
        assert any("VMCOREINFO" in n for n in t.notes)
        ctx = load_context((dump,), None, (), None, None, None)
        try:
            assert ctx.registers == t.registers and ctx.notes == list(t.notes)
        finally:
            ctx.memory.close()
        rc, out, err = run(["translate", "-i", dump, "--json", "--trace", "0xffff000001234567", "_stext"], capsys)
        cli = _lines(out)
        api = [t.translate(0xffff000001234567).to_dict(), t.translate("_stext").to_dict()]
        assert [_without_notes(d) for d in api] == [_without_notes(d) for d in cli]
        assert api[0]["pa"] == "0x41234567"
        assert t.label(0xffff000001234567) == cli[0]["label"]


def test_dump_translate_many_agrees_with_qemu(dump):
    entries = oracle_data.linux_translations()
    kernel = [e for e in entries if int(e["va"], 16) >> 55 & 1]
    vas = np.array([int(e["va"], 16) for e in kernel], dtype=np.uint64)
    want = [e["regimes"]["el1_nopan"]["pa"] for e in kernel]
    with pgwalk.open(dump) as t:
        m = t.translate_many(vas)
        got = [hex(int(pa)) if ok else None for pa, ok in zip(m.pa.tolist(), m.ok.tolist())]
    assert len(vas) > 500
    assert got == want


def test_dump_user_addresses_need_ttbr0_and_explicit_registers_win(dump):
    regs = oracle_data.linux_registers()
    user = [e for e in oracle_data.linux_translations() if not int(e["va"], 16) >> 55 & 1]
    with pgwalk.open(dump) as t:
        with pytest.raises(UnknownRegister, match="TTBR0_EL1"):
            t.translate(int(user[0]["va"], 16))
        derived = dict(t.registers)
    with pgwalk.open(dump, TTBR0_EL1=regs["TTBR0_EL1"]) as t:
        assert t.registers == {**derived, "TTBR0_EL1": regs["TTBR0_EL1"]}
        got = [t.translate(int(e["va"], 16)).pa for e in user]
    want = [None if e["regimes"]["el1_nopan"]["pa"] is None else int(e["regimes"]["el1_nopan"]["pa"], 16)
            for e in user]
    assert len(user) > 100 and any(got) and got == want


def test_dump_vtop_ptov_symbols_and_read_equal_the_cli(dump, capsys):
    with pgwalk.open(dump) as t:
        swapper = t.symbols["swapper_pg_dir"]
        _rc, out, _err = run(["vtop", dump, "--json", hex(swapper), "0xffff000001234567"], capsys)
        for d, va in zip(_lines(out), (swapper, 0xffff000001234567)):
            r = t.vtop(va)
            assert (hex(r.pa), r.how, r.label) == (d["pa"], d["how"], d["label"])
        _rc, out, _err = run(["ptov", dump, "--json", "0x41234567"], capsys)
        p = t.ptov(0x41234567)
        d = json.loads(out)
        assert (hex(p.linear), p.in_dump) == (d["linear"], d["in_dump"])
        _rc, out, _err = run(["read", "-i", dump, "init_uts_ns+0x82", "--format", "string"], capsys)
        release = t.read("init_uts_ns+0x82", 0x40).split(b"\0")[0].decode()
        assert json.loads(out.split("  ", 1)[1]) == release
        assert release == t.vmcoreinfo.osrelease


def test_readme_library_example_on_the_dump_runs(dump):
    (_samples, example) = _readme_library_examples()
    _run_doctest(example.replace('pgwalk.open("vmcore")', f"pgwalk.open({dump!r})"), "README dump")


def test_dump_tree_ttbr0_is_unknown_with_the_dump_hint(dump, capsys):
    rc, _out, err = run(["dump-tree", "-i", dump, "--ttbr0"], capsys)
    with pgwalk.open(dump) as t, pytest.raises(UnknownRegister, match="VMCOREINFO gives only the kernel") as e:
        t.tree(ttbr=0)
    assert rc == 2 and "VMCOREINFO gives only the kernel" in err and e.value.name == "TTBR0_EL1"


def test_dump_tree_ttbr1_ranges_equal_the_cli(dump, capsys):
    rng = "0xffff800008000000-0xffff800008400000"
    rc, out, err = run(["dump-tree", "-i", dump, "--json", "--view", "ranges", "--ttbr1", "--range", rng], capsys)
    assert rc == 0, err
    cli = [d for d in _lines(out) if d["record"] == "range"]
    with pgwalk.open(dump) as t:
        (tree,) = t.tree_params(ttbr=1)
        api = [run_record(r, tree) for r in t.tree(ttbr=1, start=0xffff800008000000, end=0xffff800008400000)]
    for d in cli:
        d.pop("schema"), d.pop("label", None)
    assert api == cli and api


def test_every_module_declares_all_and_its_names_exist():
    import importlib
    import pkgutil

    missing, absent = [], []
    import pgwalk.formats

    names_ = [i.name for i in pkgutil.walk_packages(pgwalk.__path__, "pgwalk.")]
    names_ += ["pgwalk.formats"] + [i.name for i in pkgutil.walk_packages(pgwalk.formats.__path__, "pgwalk.formats.")]
    assert "pgwalk.target" in names_ and "pgwalk.formats.descriptors" in names_
    for name in names_:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        if names is None:
            missing.append(name)
            continue
        absent += [f"{name}.{n}" for n in names if not hasattr(module, n)]
    assert not missing and not absent, (missing, absent)


class _DumpLike:
    """A memory whose dump carries the VMCOREINFO text given (no pages)."""

    elf_cores = ()
    warnings = ()

    def __init__(self, vmcoreinfo: str) -> None:
        self.vmcoreinfo = vmcoreinfo

    def close(self) -> None:
        pass


def test_an_unusable_vmcoreinfo_is_an_error_without_registers_and_a_note_with_them():
    bad = _DumpLike("OSRELEASE=6.1.0\nPAGESIZE=4096\n")          # no VA_BITS, no swapper_pg_dir
    with pytest.raises(RegisterError, match="cannot derive the registers from the dump's VMCOREINFO"):
        pgwalk.resolve_registers(bad)
    rs = pgwalk.resolve_registers(bad, explicit={"TCR_EL1": 0x19})
    assert rs.registers == {"TCR_EL1": 0x19} and rs.vmcoreinfo is None
    assert len(rs.notes) == 1 and "VMCOREINFO is not usable" in rs.notes[0]
    # a register file replaces the derivation; the VMCOREINFO (read for the region labels) is a note
    rs = pgwalk.resolve_registers(bad, {"TCR_EL1": 1})
    assert rs.registers == {"TCR_EL1": 1} and rs.vmcoreinfo is None
    assert len(rs.notes) == 1 and "VMCOREINFO is not usable" in rs.notes[0]
    # the root shortcut describes some other tree: the VMCOREINFO is not read at all
    assert pgwalk.resolve_registers(bad, {"TCR_EL1": 1}, use_vmcoreinfo=False).notes == []


def test_vmcoreinfo_registers_are_overridden_key_by_key(dump):
    from pgwalk.linux import registers_from_vmcoreinfo

    with pgwalk.open(dump) as t:
        info = pgwalk.resolve_registers(t.memory)
        assert info.registers == registers_from_vmcoreinfo(info.vmcoreinfo) == t.registers
        rs = pgwalk.resolve_registers(t.memory, explicit={"MAIR_EL1": 0xff})
        assert rs.registers == {**info.registers, "MAIR_EL1": 0xff}


def test_a_kdump_file_opens_as_the_elf_dump_does(dump):
    kdump = oracle_data.linux_vmcore_kdump()
    if kdump is None:
        pytest.skip("kdump file not present")
    vas = ["_stext", 0xffff000001234567, "swapper_pg_dir"]
    with pgwalk.open(dump) as elf, pgwalk.open(str(kdump)) as kd:
        assert kd.registers == elf.registers and kd.symbols == elf.symbols
        assert [_without_notes(kd.translate(v).to_dict()) for v in vas] == \
            [_without_notes(elf.translate(v).to_dict()) for v in vas]
