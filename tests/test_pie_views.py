"""Issue 17, the view side: FEAT_AIE attributes (AttrIndx[3] selects MAIR2_ELx) in the scalar walk,
the vectorised walk and dump-tree; the EL3 regime's PIE/POE/AIE (TCR_EL3, PIR_EL3, POR_EL3,
MAIR2_EL3: ASL ``AArch64.S1TTWParamsEL3``); bulk AT against scalar AT over every PIIndex and
POIndex; dump-tree's indirection column and JSON field.  Trees from :mod:`pgwalk.builder`."""

from __future__ import annotations

import numpy as np
import pytest

from pgwalk import attrs as A
from pgwalk import rules as R
from pgwalk.at import at
from pgwalk.at_many import bulk_at
from pgwalk.builder import S1Attrs, TableBuilder
from pgwalk.bulk import translate_many
from pgwalk.lines import LineFormatter
from pgwalk.formats import descriptors as D
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access, s1_overlay_permissions
from pgwalk.walk import translate
from test_pie import PIE_E0, PIE_E1

VA0 = 0x40000000
PAGE = 0x1000
# sixteen distinct Normal attribute bytes: MAIR_EL1 Attr0..7, MAIR2_EL1 Attr0..7
MAIR = int.from_bytes(bytes([0xFF, 0x44, 0xAA, 0xEE, 0xBB, 0x4F, 0xF4, 0x77]), "little")
MAIR2 = int.from_bytes(bytes([0x00, 0x04, 0x08, 0x0C, 0x99, 0xCC, 0x88, 0xDD]), "little")
AIE_BIT = D.S1_LEAF["PBHA"].lsb        # desc[59] = AttrIndx[3]


def _tree(descs):
    """A TTBR0_EL1 tree with one 4KB page per raw attribute pattern in ``descs`` (OR-ed into the page)."""
    b = TableBuilder(granule=4096, ia_bits=39)
    for n, extra in enumerate(descs):
        va = VA0 + n * PAGE
        b.map(va, 0x80000000 + n * PAGE, PAGE, S1Attrs())
        raw = b.leaf_descriptor(0x80000000 + n * PAGE, 3, S1Attrs(attr_indx=0)) | extra
        b.set_descriptor(va, 3, raw)
    return b


def _aie_tree():
    return _tree([((i & 7) << 2) | ((i >> 3) << AIE_BIT) for i in range(16)])


def test_attr_index_and_mair_attr_rules():
    raw = np.array([(i & 7) << 2 | (i >> 3) << AIE_BIT for i in range(16)], dtype=np.uint64)
    assert R.s1_attr_index(raw, True).tolist() == list(range(16))
    assert R.s1_attr_index(raw, False).tolist() == [i & 7 for i in range(16)]
    assert [R.s1_attr_index(int(r), True) for r in raw] == list(range(16))
    for i in range(16):
        assert A.mair_attr(i, MAIR, MAIR2) == ((MAIR if i < 8 else MAIR2) >> (8 * (i & 7))) & 0xFF
    assert A.mair_attr(9, MAIR, None) is None and A.mair_attr(3, MAIR, None) is not None
    assert A.mair_attr(3, None, MAIR2) is None


@pytest.mark.parametrize("aie", [True, False])
def test_aie_scalar_bulk_tree_agree(aie):
    from pgwalk.tree import collect_runs, tree_params

    b = _aie_tree()
    regs = b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "MAIR2_EL1": MAIR2, "TCR2_EL1": 0x10 if aie else 0})
    setup = setup_from_registers(regs)
    mem = b.memory()
    vas = [VA0 + n * PAGE for n in range(16)]
    res = translate_many(setup, mem, np.array(vas, dtype=np.uint64))
    for n, va in enumerate(vas):
        t = translate(setup, mem, va)
        idx = n if aie else n & 7
        want = A.s1_decode_mem_attrs(((MAIR if idx < 8 else MAIR2) >> (8 * (idx & 7))) & 0xFF, 0b11)
        assert t.s1.attr_index == idx and t.attrs == want
        assert res.translation(n).attrs == t.attrs
    runs = collect_runs(tree_params(setup, "ttbr0"), mem, start=VA0, end=VA0 + 16 * PAGE)
    got = {r.va_start: (r.attrs.attr_index, r.attrs.memattrs) for r in runs if r.mapped}
    for n, va in enumerate(vas):
        assert got[va] == (translate(setup, mem, va).s1.attr_index, translate(setup, mem, va).attrs)


def test_aie_without_mair2_is_unknown_not_guessed():
    b = _aie_tree()
    setup = setup_from_registers(b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "TCR2_EL1": 0x10}))
    assert setup.mair2 is None and any("MAIR2_EL1 was not given" in n for n in setup.notes)
    mem = b.memory()
    for n in range(16):
        t = translate(setup, mem, VA0 + n * PAGE)
        assert t.ok and t.s1.attr_index == n
        assert (t.attrs is None) == (n >= 8)


def test_at_many_groups_aie_attributes_apart():
    b = _aie_tree()
    regs = b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "MAIR2_EL1": MAIR2, "TCR2_EL1": 0x10})
    mem = b.memory()
    vas = np.array([VA0 + n * PAGE for n in range(16)], dtype=np.uint64)
    got = bulk_at(regs, mem, "S1E1R", vas)
    assert [int(p) for p in got.par] == [at(regs, mem, "S1E1R", int(va)).par for va in vas]
    assert len({int(p) >> 56 for p in got.par}) == 16


# --------------------------------------------------------------------------- every PIIndex and POIndex

def _pi_po_descs():
    """One leaf per (PIIndex, POIndex): PIIndex bits desc<54:53,51,6>, POIndex desc<62:60>, nDirty 0."""
    out = []
    for pi in range(16):
        for po in range(8):
            raw = 0
            for n, bit in enumerate(D.PI_INDEX_BITS):
                raw |= ((pi >> n) & 1) << bit
            out.append(raw | (po << D.S1_POINDEX.lsb))
    return out


PIR = 0x0123456789ABCDEF ^ 0x5A5A5A5A5A5A5A5A
PIRE0 = 0xFEDCBA9876543210
POR = 0x0000_0000_7654_3210 | 0x3 << 4 * 6
POR_E0 = 0x0000_0000_0123_4567


def _pie_regs(b):
    # TCR2_EL1: PIE (bit 1), E0POE (bit 2), POE (bit 3)
    return b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "TCR2_EL1": 0b1110, "PIR_EL1": PIR, "PIRE0_EL1": PIRE0,
                                     "POR_EL1": POR, "POR_EL0": POR_E0})


@pytest.mark.parametrize("op", ["S1E1R", "S1E1W", "S1E0R", "S1E0W", "S1E1RP", "S1E1A"])
def test_bulk_at_agrees_with_scalar_at_over_every_piindex_and_poindex(op):
    b = _tree(_pi_po_descs())
    regs = _pie_regs(b)
    mem = b.memory()
    vas = np.array([VA0 + n * PAGE for n in range(128)], dtype=np.uint64)
    got = bulk_at(regs, mem, op, vas)
    want = [at(regs, mem, op, int(va)).par for va in vas]
    assert [int(p) for p in got.par] == want
    if op in ("S1E1R", "S1E0W"):
        assert 0 < sum(p & 1 for p in want) < len(want)        # some lanes fault, some do not


def test_el3_pie_poe_aie_from_tcr_el3():
    """ASL AArch64.S1TTWParamsEL3: walkparams.pie = TCR_EL3.PIE with PIR_EL3, the overlay from
    TCR_EL3.POE with POR_EL3, walkparams.aie = TCR_EL3.AIE with MAIR2_EL3."""
    from pgwalk.formats import registers as FR

    descs = _pi_po_descs()
    b = _tree([descs[pi * 8 + (pi & 7)] for pi in range(16)] + [(1 << AIE_BIT) | (2 << 2)])
    regs = b.registers(ttbr=0)
    tcr3 = FR.TCR_EL3.encode(T0SZ=64 - 39, IRGN0=1, ORGN0=1, SH0=3, TG0=0, PS=2, RES1_23=1, RES1_31=1,
                             PIE=1, POE=1, AIE=1)
    el3 = {"TCR_EL3": tcr3, "TTBR0_EL3": regs["TTBR0_EL1"], "SCTLR_EL3": 1, "MAIR_EL3": MAIR,
           "MAIR2_EL3": MAIR2, "PIR_EL3": PIR, "POR_EL3": POR}
    s = setup_from_registers(el3, Regime.EL3)
    p = s.ranges[0]
    assert p.perm.pie and p.perm.poe and not p.perm.e0poe and p.aie and p.hpd
    assert (p.perm.pir_name, p.perm.por_name) == ("PIR_EL3", "POR_EL3") and s.mair2 == MAIR2
    mem = b.memory()
    for n in range(16):
        t = translate(s, mem, VA0 + n * PAGE)
        assert t.s1.perms.indirect and t.s1.perms.pi_index == n and t.s1.perms.po_index == n & 7
        assert t.s1.perms.ppi == (PIR >> 4 * n) & 0xF and t.s1.perms.upi is None
        if not t.s1.perms.ppi & 0b1000:             # an entry that lets the overlay apply: POR_EL3
            assert t.s1.perms.p_overlay == s1_overlay_permissions((POR >> 4 * (n & 7)) & 0xF)
    t = translate(s, mem, VA0 + 16 * PAGE)
    assert t.s1.attr_index == 10 and t.attrs == A.s1_decode_mem_attrs((MAIR2 >> 16) & 0xFF, 0b11)
    # PIR_EL3 not given: the permissions are unknown; TCR_EL3 without the bits: direct permissions
    s = setup_from_registers({k: v for k, v in el3.items() if k != "PIR_EL3"}, Regime.EL3)
    assert s.ranges[0].perm.pir is None and any("PIR_EL3 was not given" in n for n in s.notes)
    s = setup_from_registers({**el3, "TCR_EL3": FR.TCR_EL3["PIE"].put(tcr3, 0)}, Regime.EL3)
    assert not s.ranges[0].perm.pie
    # the regime's own registers only: TCR2_EL1/PIR_EL1 do not reach EL3
    s = setup_from_registers({**el3, "TCR_EL3": FR.TCR_EL3["PIE"].put(tcr3, 0), "TCR2_EL1": 2, "PIR_EL1": 0},
                             Regime.EL3)
    assert not s.ranges[0].perm.pie


# --------------------------------------------------------------------------- dump-tree


def _dump(tmp_path, capsys, b, regs, *args):
    import json

    from cli_helpers import run

    base, _size = b.write_raw(tmp_path / "t.img")
    (tmp_path / "r.json").write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
    rc, out, err = run(["dump-tree", "-i", f"{tmp_path / 't.img'}@{base:#x}", "--regs", str(tmp_path / "r.json"),
                        "--ttbr0", *args], capsys)
    assert rc == 0, err
    return out


@pytest.mark.parametrize("view", ["ranges", "tree"])
def test_dump_tree_indirection_field_and_column(tmp_path, capsys, view):
    """Every (PIIndex, POIndex) leaf is its own range, with the PIR/PIRE0/POR entries the walk's
    permission functions resolve; the JSON validates against the shipped schema."""
    import json

    from test_json_schemas import check_lines

    descs = _pi_po_descs()
    b = _tree(descs)
    regs = _pie_regs(b)
    setup = setup_from_registers(regs)
    mem = b.memory()
    out = _dump(tmp_path, capsys, b, regs, "--view", view, "--json")
    recs = [r for r in check_lines("dump-tree", out) if r["record"] in ("range", "entries") and r["mapped"]]
    assert len(recs) == 128                              # no two (PIIndex, POIndex) merged
    for r in recs:
        va = int(r["va_start"], 16)
        n = (va - VA0) // PAGE
        pi, po = divmod(n, 8)
        ind = r["indirection"]
        t = translate(setup, mem, va)
        assert (ind["pi_index"], ind["po_index"]) == (pi, po) == (t.s1.perms.pi_index, t.s1.perms.po_index)
        assert int(ind["pir"], 2) == (PIR >> 4 * pi) & 0xF and int(ind["pire0"], 2) == (PIRE0 >> 4 * pi) & 0xF
        for el, ovl in (("el1", t.s1.perms.p_overlay), ("el0", t.s1.perms.u_overlay)):
            assert (ind["overlay"] or {}).get(el) == (None if ovl is None else
                                                      "".join(c if ok else "-" for c, ok in zip("rwx", ovl)))
        assert r["permissions"] == {"el1": _eff(t, False, setup), "el0": _eff(t, True, setup)}
        assert ind["text"].startswith(f"PI {pi} PIR ")
    text = _dump(tmp_path, capsys, b, regs, "--view", view)
    assert text.count("[PI ") == 128 and "PIRE0" in text and "PO 7" in text


def _eff(t, el0, setup):
    from pgwalk.perms import s1_rwx_text

    return s1_rwx_text(t.s1.perms, el0=el0, pan=False, epan=setup.epan, wxn=setup.wxn)


def test_dump_tree_indirection_unknown_and_off(tmp_path, capsys):
    import json

    b = _tree(_pi_po_descs()[:16])
    regs = {k: v for k, v in _pie_regs(b).items() if k != "PIR_EL1"}
    recs = [json.loads(line) for line in _dump(tmp_path, capsys, b, regs, "--view", "ranges", "--json").splitlines()]
    ranges = [r for r in recs if r["record"] == "range" and r["mapped"]]
    assert ranges and all(r["indirection"]["unknown"] == "PIR_EL1" for r in ranges)
    off = {**regs, "TCR2_EL1": 0}
    recs = [json.loads(line) for line in _dump(tmp_path, capsys, b, off, "--view", "ranges", "--json").splitlines()]
    assert all(r["indirection"] is None for r in recs if r["record"] == "range")


# --------------------------------------------------------------------------- decode of every new register

# (register, value, {field: value}, text the summary or a field's meaning must hold)
_DECODES = [
    ("TCR2_EL1", 0b111110 | 1 << 11, {"PIE": 1, "E0POE": 1, "POE": 1, "AIE": 1, "D128": 1, "HAFT": 1, "PnCH": 0},
     "enabled: PIE, POE, E0POE, AIE, HAFT, D128"),
    ("TCR2_EL2", 0b1011, {"PnCH": 1, "PIE": 1, "E0POE": 0, "POE": 1}, "enabled: PIE, POE, PnCH"),
    ("PIR_EL1", PIE_E1, {f"Perm{n}": (PIE_E1 >> 4 * n) & 0xF for n in range(16)}, "14: RW"),
    ("PIRE0_EL1", PIE_E0, {f"Perm{n}": (PIE_E0 >> 4 * n) & 0xF for n in range(16)}, "R and GCS"),
    ("PIR_EL2", 0xE << 8, {"Perm2": 0xE, "Perm0": 0}, "2: RWX"),
    ("PIRE0_EL2", 0x6 << 60, {"Perm15": 0x6}, "15: RWX with WXN (overlay)"),
    ("PIR_EL3", 0xA, {"Perm0": 0xA}, "0: RX"),
    ("POR_EL0", 0x0123_4567, {"Perm0": 7, "Perm1": 6, "Perm7": 0}, "0: RWX"),
    ("POR_EL1", 0x5 << 12, {"Perm3": 5}, "3: RW"),
    ("POR_EL2", 0x9, {"Perm0": 9}, "0: reserved: no access"),
    ("POR_EL3", 0x3 << 28, {"Perm7": 3}, "7: RX"),
    ("S2PIR_EL2", 0xF | 0x2 << 4, {"Perm0": 0xF, "Perm1": 2}, "1: MRO"),
    ("S2POR_EL1", 0xC << 60, {"Perm15": 0xC}, "15: RW"),
    ("VTCR_EL2", 0x80023558 | 3 << 36, {"S2PIE": 1, "S2POE": 1}, "stage 2"),
    ("MAIR2_EL1", 0x44FF, {"Attr0": 0xFF, "Attr1": 0x44}, "attributes 8..15"),
    ("MAIR2_EL2", 0x04 << 56, {"Attr7": 0x04}, "attributes 8..15"),
    ("MAIR2_EL3", 0xBB, {"Attr0": 0xBB}, "attributes 8..15"),
    ("ID_AA64MMFR3_EL1", 0x0111_1101, {"TCRX": 1, "S1PIE": 1, "S2PIE": 1, "S1POE": 1, "S2POE": 1, "AIE": 1},
     "implemented: TCRX, S1PIE, S2PIE, S1POE, S2POE, AIE"),
    ("SCR_EL3", 1 << 43 | 1 << 45 | 1 << 46, {"TCR2En": 1, "PIEn": 1, "AIEn": 1, "D128En": 0}, "TCR2En, PIEn, AIEn"),
    ("HCRX_EL2", 1 << 14 | 1 << 22, {"TCR2En": 1, "GCSEn": 1, "SCTLR2En": 0}, "TCR2En, GCSEn"),
    ("TCR_EL3", 0x2880803510 | 1 << 36, {"PIE": 1, "POE": 1, "AIE": 1, "D128": 0, "HAFT": 0, "T0SZ": 16},
     "permission indirection: PIIndex selects a PIR_EL3 entry"),
]


@pytest.mark.parametrize("reg, value, fields, text", _DECODES, ids=[d[0] for d in _DECODES])
def test_decode_every_new_register(reg, value, fields, text, capsys):
    """``pgwalk decode REG VALUE``: every field by its Arm ARM name (API and CLI, JSON valid)."""
    import json

    from cli_helpers import run
    from test_json_schemas import check_lines

    from pgwalk.esr import decode_register

    rep = decode_register(reg, value)
    assert {k: rep.fields[k] for k in fields} == fields
    meanings = " ".join(d.meaning for d in rep.details if getattr(d, "meaning", None))
    assert text in (rep.summary or "") + " " + meanings
    rc, out, err = run(["decode", reg, hex(value), "--json"], capsys)
    assert rc == 0, err
    d = check_lines("register", out)[0]
    assert d["register"] == reg and {k: d["fields"][k] for k in fields} == fields


def test_dump_tree_stage2_indirection(tmp_path, capsys):
    """Stage 2 with S2PIE and S2POE: each (PIIndex, S2POIndex) leaf its own range, S2PIR_EL2 and
    S2POR_EL1 entries as the stage 2 walk resolves them (ASL AArch64.S2IndirectBasePermissions,
    AArch64.S2OverlayPermissions)."""
    import json

    from cli_helpers import run
    from pgwalk.builder import S2Attrs
    from test_json_schemas import check_lines

    b = TableBuilder(stage=2, granule=4096, ia_bits=40, start_level=1)
    n = 0
    for pi in range(16):
        po = (pi * 5) & 15
        ipa = VA0 + n * PAGE
        b.map(ipa, 0x80000000 + n * PAGE, PAGE, S2Attrs())
        raw = b.leaf_descriptor(0x80000000 + n * PAGE, 3, S2Attrs(s2ap=0b10)) & ~(1 << 6 | 1 << 51 | 3 << 53)
        for k, bit in enumerate(D.PI_INDEX_BITS):
            raw |= ((pi >> k) & 1) << bit
        b.set_descriptor(ipa, 3, raw | po << D.S2_POINDEX.lsb)
        n += 1
    s2pir, s2por = 0xFEDC_BA98_7654_3210, 0x0F1E_2D3C_4B5A_6978
    regs = b.registers()
    regs["VTCR_EL2"] |= 3 << 36
    regs.update(S2PIR_EL2=s2pir, S2POR_EL1=s2por)
    base, _ = b.write_raw(tmp_path / "s2.img")
    (tmp_path / "r.json").write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
    rc, out, err = run(["dump-tree", "-i", f"{tmp_path / 's2.img'}@{base:#x}", "--regs", str(tmp_path / "r.json"),
                        "--stage", "2", "--view", "ranges", "--json"], capsys)
    assert rc == 0, err
    recs = [r for r in check_lines("dump-tree", out) if r["record"] == "range" and r["mapped"]]
    assert len(recs) == 16
    setup = setup_from_registers(regs, stage1=False)
    for r in recs:
        pi = (int(r["va_start"], 16) - VA0) // PAGE
        ind = r["indirection"]
        t = translate(setup, b.memory(), int(r["va_start"], 16), stages="2")
        assert ind["pi_index"] == pi == t.s2.perms.pi_index and ind["po_index"] == (pi * 5) & 15
        assert int(ind["pir"], 2) == (s2pir >> 4 * pi) & 0xF == t.s2.perms.s2pi
        assert r["permissions"] == {"stage2_el1": t.s2.perms.text(False), "stage2_el0": t.s2.perms.text(True)}
        assert ind["text"].startswith(f"PI {pi} S2PIR ")


def test_el3_d128_is_walked_as_vmsav9_128_not_misread():
    from pgwalk.formats import registers as FR

    tcr3 = FR.TCR_EL3.encode(T0SZ=25, RES1_23=1, RES1_31=1, D128=1)
    s = setup_from_registers({"TCR_EL3": tcr3, "TTBR0_EL3": 0x40000000, "SCTLR_EL3": 1}, Regime.EL3)
    p = s.ranges[0]
    # a 39-bit VA range, 4KB granule, 16-byte entries: 8 bits a level, so the walk starts at level 0
    assert p.d128 and p.perm.pie and p.stride == 8 and p.start_level == 0


# --------------------------------------------------------------------------- batch lines (translate --batch)

@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("case", ["aie", "pie-poe-read", "pie-poe-write", "pie-poe-el0-write"])
def test_batch_lines_tell_apart_attr_index3_poindex_and_fault_kinds(fmt, case):
    """``translate --batch`` prints a block's lanes from shared templates (pgwalk.lines): lanes that
    differ only in AttrIndx[3] (MAIR2), POIndex (the overlay) or the kind of Permission fault
    (Overlay / DirtyBit flags) must still get their own line -- each lane's line equals the line
    of that lane formatted alone."""
    if case == "aie":
        b = _aie_tree()
        regs = b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "MAIR2_EL1": MAIR2, "TCR2_EL1": 0x10})
        n, kw = 16, {}
    else:
        b = _tree(_pi_po_descs())
        regs = _pie_regs(b)
        n = 128
        kw = {"access": Access.READ} if case == "pie-poe-read" else {"access": Access.WRITE}
        if case == "pie-poe-el0-write":
            kw["el"] = 0
    setup = setup_from_registers(regs)
    mem = b.memory()
    res = translate_many(setup, mem, np.array([VA0 + i * PAGE for i in range(n)], dtype=np.uint64), **kw)
    lines = LineFormatter(fmt).format(res).splitlines()
    alone = [LineFormatter(fmt).format(res.select(slice(i, i + 1))).splitlines()[-1] for i in range(n)]
    assert lines[-n:] == alone
    assert len(set(alone)) > 8          # the tree really has lanes that print differently


def test_trace_fields_name_poindex_and_attrindx3():
    """The translate trace names desc[62:60] POIndex when an overlay is on and desc[59] AttrIndx[3]
    with FEAT_AIE (PBHA otherwise), with the values the walk used."""
    b = _tree(_pi_po_descs())
    setup = setup_from_registers(_pie_regs(b))
    mem = b.memory()
    for n in (0, 5, 127):
        leaf = translate(setup, mem, VA0 + n * PAGE).steps[-1]
        assert leaf.fields["POIndex"] == n % 8 and "PBHA" not in leaf.fields and leaf.fields["PBHA0"] == 0
    b = _aie_tree()
    mem = b.memory()
    for aie, tcr2 in ((True, 0x10), (False, 0)):
        setup = setup_from_registers(b.registers(ttbr=0, regs={"MAIR_EL1": MAIR, "MAIR2_EL1": MAIR2, "TCR2_EL1": tcr2}))
        for n in range(16):
            t = translate(setup, mem, VA0 + n * PAGE)
            f = t.steps[-1].fields
            if aie:
                assert f["AttrIndx3"] << 3 | f["AttrIndx"] == t.s1.attr_index == n and "PBHA" in f
            else:
                assert f["PBHA"] == n >> 3 and "AttrIndx3" not in f and "POIndex" not in f
