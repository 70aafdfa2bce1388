"""AT in the EL2, EL2&0 and EL3 regimes, HCR_EL2.{E2H,TGE} regime selection and hardware
Access flag updates, against the QEMU 10 oracle (../shared/oracle/qemu-at-regimes, MANIFEST.md).

Every one of the 21,996 vectors goes through :func:`pgwalk.at.at` (the scalar walk) and, grouped by
register state, operation, PAN and executing EL, through :func:`pgwalk.bulk.bulk_at` (the vectorised
walk); the two must give the same PAR_EL1 for every vector.

* Compared fields (MANIFEST): F, FST, PTW, S for a fault; PA, ATTR, SH for a success, and PAR.NS in
  the EL3 regime (:func:`pgwalk.at.compare_par` with ``compare_ns``).
* Every vector where QEMU follows the architecture must match.  Every other vector is in a named
  category, whose architectural answer is argued from the Arm ARM pseudocode (DDI 0487 M.a.a, ASL)
  in :data:`ARGUMENTS` and asserted by the checker of the same name.  Three categories are the
  MANIFEST's; ``oa_beyond_ps_within_block`` was not tagged by the generator (QEMU and its reference
  model agree there) and is recognised by rule.
* Hardware AF updates (hwaf_* families): the descriptors pgwalk reports as updated
  (:attr:`pgwalk.walk.Translation.af_updates`) are exactly those whose AF QEMU set (``descs[].after``)
  and those the reference model expects (``expect.af_updates``).  QEMU's dirty-state writes by AT are
  a departure argued the same way (``qemu_at_updates_dirty_state``).
* ``translate`` with the vector's regime (``--regime el2|el20|el3|el10``) gives the same outcome as
  the AT, in the library for every vector and through the command line for a sample.

``python -m pytest tests/test_at_regimes_oracle.py -s`` prints the per-family agreement table.
"""

from __future__ import annotations

import collections
import functools
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import oracle_at as O
from pgwalk.at import AT_OPS, ATResult, at, compare_par, known_departures
from pgwalk.at_many import bulk_at
from pgwalk.bulk import DescriptorReader
from pgwalk.faults import FaultType, decode_fsc
from pgwalk.formats import descriptors as D
from pgwalk.formats import registers as R
from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from pgwalk.params import Regime, oa_out_of_range, setup_from_registers
from pgwalk.regs import KNOWN_REGISTERS
from pgwalk.walk import translate

pytestmark = pytest.mark.skipif(not O.regimes_available(), reason="QEMU AT regimes oracle not present")

FAMILIES = {"el2": 3144, "el2_ttst": 324, "el2_lpa2": 929, "el3": 3096, "el3_lpa2": 819, "el20": 4306,
            "el20_lpa2": 1163, "e2h_select": 3710, "hwaf_el10": 2410, "hwaf_el2": 1058, "hwaf_el20": 1037}

# --------------------------------------------------------------------------- the arguments

ARGUMENTS = {
    "qemu_tge_el10_stage1_walks":
        "HCR_EL2.{E2H,TGE} = {0,1}, AT S1E0*/S1E1* executed at EL3.  ASL AArch64.AT: E2H = 0, so "
        "ELIsInHost(EL0) is FALSE and the regime is TranslationRegime(EL1 or EL0) = Regime_EL10.  "
        "AArch64.S1Translate asks AArch64.S1Enabled(Regime_EL10), which is "
        "(!EL2Enabled() || HCR_EL2.<DC,TGE> == '00') && SCTLR_EL1.M == '1': EL2 is enabled (SCR_EL3.NS = 1) "
        "and TGE = 1, so stage 1 is disabled whatever the executing EL, and AArch64.S1DisabledOutput gives "
        "the flat result (OA = VA, or an Address size fault at level 0 when VA[55:PAMax] is not zero).  "
        "Answer: the stage 1 disabled result (the reference model's too); QEMU walks the EL1&0 tables "
        "(pgwalk reproduces QEMU's PAR exactly by clearing TGE).",
    "qemu_abort_ats_s12_stage1_off":
        "QEMU crashed (do_ats_write assertion) on AT S12E* with SCTLR_EL1.M = 0 when stage 2 gives a "
        "Permission fault.  ASL AArch64.AT: S1Translate with stage 1 disabled gives IPA = VA; "
        "AArch64.S2Translate then checks the stage 2 permissions of the access (AArch64.S2CheckPermissions) "
        "and returns a Permission fault with secondstage = TRUE, s2fs1walk = FALSE; the AT ran at EL2/EL3, "
        "so EncodePAR reports it.  Answer: PAR.F = 1, FST = permission at the stage 2 leaf level, S = 1, "
        "PTW = 0 (the reference model's answer).",
    "oa_hi_bits_ps_lt_52":
        "With PAMax = 52 the descriptor's OA[51:48] (64KB: bits[15:12], AArch64.NextTableBase/S1LeafBase "
        "with PAMax >= 52) or OA[51:50] (DS = 1: bits[9:8]) are address bits; S1Walk then tests "
        "AArch64.S1OAOutOfRange against the {I}PS/PS size (below 52 bits here), on the next-level table "
        "address or on the final output address.  Answer: an Address size fault at the level of that "
        "descriptor (the reference model's too); QEMU ignores the bits.",
    "oa_beyond_ps_within_block":
        "(untagged) A block larger than the output address space: a 64KB level 1 block (4TB) with "
        "{I}PS = 40 bits.  ASL AArch64.S1Walk computes oa = StageOA(va, ...) -- the block base with "
        "VA[leafsize-1:0] -- and tests AArch64.S1OAOutOfRange(oa.address): address<55:40> must be zero.  The "
        "base is in range but VA[41:40] are not zero.  The check comes before the Access flag check in "
        "S1Walk.  Answer: an Address size fault at the block's level.  QEMU (get_phys_addr_lpae) and the "
        "reference model test only the block's base address, so they translate (or report the AF fault).",
    "qemu_at_updates_dirty_state":
        "(memory, not PAR) With HA = HD = 1 and DBM = 1, QEMU's AT S1E*W/S12E*W clears AP[2] (stage 1) or "
        "sets S2AP[1] (stage 2) in memory.  ASL AArch64.SetDirtyState returns FALSE when accdesc.acctype is "
        "AccessType_AT, so an AT never writes dirty state; DBM = 1 with HD = 1 only makes the descriptor "
        "count as writable in the permission check.  Answer: the PAR QEMU gave (unaffected), and no dirty "
        "update (pgwalk reports only Access flag updates).",
}
#: the categories QEMU's answer differs from in compared PAR fields
PAR_CATEGORIES = ("qemu_tge_el10_stage1_walks", "qemu_abort_ats_s12_stage1_off", "oa_hi_bits_ps_lt_52",
                  "oa_beyond_ps_within_block")


# --------------------------------------------------------------------------- running every vector

class Outcome:
    """One vector: the vector, the scalar AT, the vectorised AT's PAR, its registers and setup."""

    __slots__ = ("v", "res", "bulk_par", "regs", "category", "bulk_af")

    def __init__(self, v, res: ATResult, bulk_par, regs):
        self.v, self.res, self.bulk_par, self.regs = v, res, bulk_par, regs
        self.category = None
        self.bulk_af = None       # the vectorised walk's af_updates (vectors with descs)

    @property
    def qemu_ok(self) -> bool:
        return self.v["qemu"]["status"] == "ok"

    @property
    def qpar(self) -> int:
        return int(self.v["qemu"]["par"], 16)

    @property
    def model_par(self) -> int:
        return int(self.v["expect"]["par"], 16)

    def match(self, par: int | None) -> bool:
        return compare_par(self.res.par, par, compare_ns=self.res.regime is Regime.EL3).match

    @property
    def setup(self):
        return setup_from_registers(self.regs, self.res.regime)


def run_batch(batch: str) -> list[Outcome]:
    mem = O.regimes_memory(batch)
    reader = DescriptorReader(mem)
    vectors = O.regimes_vectors(batch)
    groups: dict[tuple, list[int]] = {}
    for i, v in enumerate(vectors):
        groups.setdefault((json.dumps(v["regs"], sort_keys=True), v["op"], v["pan"], v["exec_el"]), []).append(i)
    out: list[Outcome | None] = [None] * len(vectors)
    for (_, op, pan, exec_el), idx in groups.items():
        regs = O.regimes_registers(vectors[idx[0]])
        vas = np.array([int(vectors[i]["va"], 16) for i in idx], dtype=np.uint64)
        b = bulk_at(regs, mem, op, vas, pan=bool(pan), exec_el=exec_el, reader=reader)
        for lane, i in enumerate(idx):
            v = vectors[i]
            res = at(regs, mem, op, int(v["va"], 16), pan=bool(pan), exec_el=exec_el)
            o = out[i] = Outcome(v, res, None if b.exception[lane] else int(b.par[lane]), regs)
            if "descs" in v:
                o.bulk_af = b.result.translation(lane).af_updates
    for o in out:
        o.category = category_of(o)
    return out


@functools.lru_cache(maxsize=1)
def all_outcomes() -> dict[str, list[Outcome]]:
    return {b: run_batch(b) for b in O.regimes_batches()}


def _flat() -> list[Outcome]:
    return [o for outcomes in all_outcomes().values() for o in outcomes]


# --------------------------------------------------------------------------- classification

def _leaf_step(o: Outcome, stage: int, level: int):
    return next((s for s in reversed(o.res.translation.steps)
                 if s.stage == stage and s.level == level and s.raw is not None), None)


def category_of(o: Outcome) -> str | None:
    """The departure category of a vector: the MANIFEST's, or one recognised by rule (only
    vectors that differ from QEMU: a rule's vector that happens to agree counts as a match)."""
    if o.v["category"] is not None:
        return o.v["category"]
    if o.qemu_ok and not o.match(o.qpar) and O.block_oa_beyond(o.setup, o.res.translation):
        return "oa_beyond_ps_within_block"
    return None


# --------------------------------------------------------------------------- the checkers

def _fault(par: int):
    info = decode_fsc(PAR_EL1_FAULT["FST"].get(par))
    return info.type, info.level, PAR_EL1_FAULT["S"].get(par), PAR_EL1_FAULT["PTW"].get(par)


def check_qemu_tge_el10_stage1_walks(o: Outcome) -> None:
    h = R.HCR_EL2.decode(o.regs["HCR_EL2"])
    op = AT_OPS[o.v["op"]]
    assert (h["E2H"], h["TGE"]) == (0, 1) and op.stages == "1" and op.el in (0, 1) and o.v["exec_el"] == 3
    assert o.res.regime is Regime.EL10 and o.res.translation.s1_disabled, o.v["id"]
    assert o.match(o.model_par), (o.v["id"], hex(o.res.par), o.v["expect"])
    assert {r.category for r in known_departures(o.res, o.qpar, o.setup)} == {"qemu_tge_el10_stage1_walks"}
    # QEMU walked the EL1&0 stage 1 tables: with TGE = 0 pgwalk gives exactly QEMU's PAR (or QEMU's
    # answer departs there in a second, known way: high OA bits ignored)
    regs = {**o.regs, "HCR_EL2": R.HCR_EL2["TGE"].put(o.regs["HCR_EL2"], 0)}
    walked = at(regs, O.regimes_memory(o.v["batch"]), op, o.res.va, pan=bool(o.v["pan"]), exec_el=o.v["exec_el"])
    if not compare_par(walked.par, o.qpar).match:
        names = {r.category for r in known_departures(walked, o.qpar, setup_from_registers(regs, Regime.EL10))}
        assert "oa_hi_bits_ps_lt_52" in names, (o.v["id"], names)


def check_qemu_abort_ats_s12_stage1_off(o: Outcome) -> None:
    assert o.v["qemu"]["status"] == "crash"
    t = o.res.translation
    assert AT_OPS[o.v["op"]].stages == "12" and o.res.stages_used == "12" and t.s1_disabled
    ftype, _level, s, ptw = _fault(o.res.par)
    assert o.res.par & 1 and ftype is FaultType.PERMISSION and (s, ptw) == (1, 0), o.v["id"]
    assert t.fault.level == t.steps[-1].level
    assert o.match(o.model_par), (o.v["id"], hex(o.res.par), o.v["expect"])


def check_oa_hi_bits_ps_lt_52(o: Outcome) -> None:
    f = o.res.translation.fault
    assert f is not None and f.type is FaultType.ADDRESS_SIZE and f.stage == 1, (o.v["id"], f)
    step = _leaf_step(o, 1, f.level)
    p = o.setup.s1_params(o.res.va)
    hi = D.LPA_OA_51_48.get(step.raw) if p.lpa64 else D.DS_OA_51_50.get(step.raw)
    assert hi and p.oa_bits < 52, (o.v["id"], hex(step.raw), p.oa_bits)
    assert o.match(o.model_par), (o.v["id"], hex(o.res.par), o.v["expect"])
    names = {r.category for r in known_departures(o.res, o.qpar, o.setup)}
    assert "oa_hi_bits_ps_lt_52" in names, o.v["id"]


def check_oa_beyond_ps_within_block(o: Outcome) -> None:
    t = o.res.translation
    f = t.fault
    step = _leaf_step(o, 1, f.level)
    p = o.setup.s1_params(o.res.va)
    leafsize = p.granule_shift + p.stride * (3 - f.level)
    oa = step.next_addr | (o.res.va & ((1 << leafsize) - 1))
    assert leafsize > p.oa_bits and oa_out_of_range(oa, p.oa_bits) and not oa_out_of_range(step.next_addr, p.oa_bits)
    assert (f.type, f.stage) == (FaultType.ADDRESS_SIZE, 1)
    q = o.qpar
    if q & 1:          # QEMU: the (later) Access flag fault of the same block
        assert _fault(q)[:3] == (FaultType.ACCESS_FLAG, f.level, 0) and not D.S1_LEAF["AF"].get(step.raw)
    else:              # QEMU: the out-of-range output address itself
        assert PAR_EL1_OK["PA"].get(q) == (oa >> 12) & PAR_EL1_OK["PA"].wmask
    assert compare_par(q, o.model_par).match          # the reference model checks the base only, too
    assert "oa_beyond_ps_within_block" in {r.category for r in known_departures(o.res, q, o.setup)}


CHECKERS = {
    "qemu_tge_el10_stage1_walks": check_qemu_tge_el10_stage1_walks,
    "qemu_abort_ats_s12_stage1_off": check_qemu_abort_ats_s12_stage1_off,
    "oa_hi_bits_ps_lt_52": check_oa_hi_bits_ps_lt_52,
    "oa_beyond_ps_within_block": check_oa_beyond_ps_within_block,
}


# --------------------------------------------------------------------------- summary

def summary() -> tuple[dict, collections.Counter]:
    fam: dict = collections.defaultdict(collections.Counter)
    cats: collections.Counter = collections.Counter()
    for o in _flat():
        c = fam[o.v["family"]]
        c["vectors"] += 1
        if o.category is not None:
            c["departures"] += 1
            c[o.category] += 1
            cats[o.category] += 1
        elif o.qemu_ok and o.match(o.qpar):
            c["agree"] += 1
        else:
            c["unexplained"] += 1
    return fam, cats


def summary_text() -> str:
    fam, cats = summary()
    lines = [f"{'family':12} {'vectors':>8} {'agree':>7} {'depart':>7} {'other':>6}  departures by category"]
    tot = collections.Counter()
    for name in sorted(fam):
        c = fam[name]
        tot.update(c)
        by = ", ".join(f"{k} {c[k]}" for k in PAR_CATEGORIES if c[k])
        lines.append(f"{name:12} {c['vectors']:8} {c['agree']:7} {c['departures']:7} {c['unexplained']:6}  {by}")
    lines.append(f"{'total':12} {tot['vectors']:8} {tot['agree']:7} {tot['departures']:7} {tot['unexplained']:6}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the tests

def test_vector_counts():
    fam, _ = summary()
    assert {k: c["vectors"] for k, c in fam.items()} == FAMILIES


def test_scalar_and_vectorised_at_agree():
    """bulk_at (one vectorised walk per register state, op, PAN and EL) = at, vector by vector."""
    bad = [(o.v["id"], o.res.par, o.bulk_par) for o in _flat() if o.bulk_par != o.res.par]
    assert not bad, bad[:5]


@pytest.mark.parametrize("batch", O.regimes_batches() if O.regimes_available() else [])
def test_architectural_vectors_match(batch):
    """Every vector where QEMU follows the architecture gives the same PAR fields."""
    wrong = []
    n = 0
    for o in all_outcomes()[batch]:
        if o.category is not None:
            continue
        n += 1
        assert o.qemu_ok, o.v["id"]
        if not o.match(o.qpar):
            d = compare_par(o.res.par, o.qpar, compare_ns=o.res.regime is Regime.EL3)
            wrong.append((o.v["id"], o.v["op"], o.v["intent"], o.v["qemu"]["par"], hex(o.res.par or 0), d.fields))
    assert n > 0
    assert not wrong, f"{len(wrong)} of {n} differ; first: {wrong[:3]}"


def test_ns_compared_in_el3():
    """PAR.NS is compared in the EL3 regime, and both values occur there."""
    ns = collections.Counter()
    for o in _flat():
        if o.res.regime is Regime.EL3 and o.category is None and not o.qpar & 1:
            ns[PAR_EL1_OK["NS"].get(o.qpar)] += 1
            assert PAR_EL1_OK["NS"].get(o.res.par) == PAR_EL1_OK["NS"].get(o.qpar), o.v["id"]
    assert ns[0] > 100 and ns[1] > 100, ns


@pytest.mark.parametrize("category", sorted(CHECKERS))
def test_departure_gets_the_architectural_answer(category):
    """See ARGUMENTS[category] for the pseudocode argument."""
    assert category in ARGUMENTS
    vectors = [o for o in _flat() if o.category == category]
    assert vectors, category
    for o in vectors:
        CHECKERS[category](o)
        if o.qemu_ok:
            assert not o.match(o.qpar), (o.v["id"], "a departure must differ from QEMU")


def test_departure_counts():
    """The MANIFEST's counts for this seed, plus the untagged category."""
    _, cats = summary()
    assert dict(cats) == {"qemu_tge_el10_stage1_walks": 527, "qemu_abort_ats_s12_stage1_off": 229,
                          "oa_hi_bits_ps_lt_52": 219, "oa_beyond_ps_within_block": 5}


def test_summary(capsys):
    fam, _ = summary()
    with capsys.disabled():
        print("\n" + summary_text())
    for name, c in fam.items():
        assert c["unexplained"] == 0, name
        assert c["agree"] + c["departures"] == c["vectors"], name


# --------------------------------------------------------------------------- hardware AF updates

def _changed(d: dict) -> int:
    return int(d["before"], 16) ^ int(d["after"], 16)


def test_af_updates_are_the_hardware_ones():
    """pgwalk's Access flag updates = the descriptors whose AF QEMU set = the model's af_updates."""
    n = updated = 0
    for o in all_outcomes()["hwaf"]:
        if "descs" not in o.v:
            continue
        n += 1
        ours = [(u.stage, u.level) for u in o.res.translation.af_updates]
        assert o.bulk_af == o.res.translation.af_updates, o.v["id"]       # the vectorised walk says the same
        assert sorted(ours) == sorted(map(tuple, o.v["expect"].get("af_updates", []))), o.v["id"]
        if not o.qemu_ok:                                   # QEMU crashed: a fault, no update
            assert not ours and o.res.par & 1
            continue
        af_set = [d for d in o.v["descs"] if _changed(d) & D.S1_LEAF["AF"].mask]
        assert all(not int(d["before"], 16) & D.S1_LEAF["AF"].mask for d in af_set)
        # the descriptor pgwalk names is the one QEMU wrote
        pas = []
        for u in o.res.translation.af_updates:
            step = next(s for s in o.res.translation.steps
                        if s.stage == u.stage and s.level == u.level and s.kind in ("block", "page"))
            pas.append(step.desc_pa)
        assert sorted(pas) == sorted(int(d["pa"], 16) for d in af_set), o.v["id"]
        assert not (o.qpar & 1 and ours)
        updated += bool(ours)
    # (the MANIFEST says 2 077 AF-setting jobs; the vectors have 999, each one agreeing)
    assert n == 4374 and updated == 999


def test_qemu_at_updates_dirty_state():
    """ARGUMENTS['qemu_at_updates_dirty_state']: QEMU's only other descriptor writes are dirty state
    by AT writes with HD = 1 and DBM = 1; the PAR agrees, pgwalk reports no dirty update."""
    dirty = 0
    for o in all_outcomes()["hwaf"]:
        if "descs" not in o.v or not o.qemu_ok:
            continue
        for d in o.v["descs"]:
            other = _changed(d) & ~D.S1_LEAF["AF"].mask
            if not other:
                continue
            assert other == 1 << 7, (o.v["id"], hex(other))
            before = int(d["before"], 16)
            step = next(s for s in o.res.translation.steps if s.desc_pa == int(d["pa"], 16))
            setup = o.setup
            hd = setup.s2.hd if step.stage == 2 else setup.s1_params(o.res.va).hd
            assert AT_OPS[o.v["op"]].access.value == "write" and hd and D.S1_LEAF["DBM"].get(before)
            # stage 1: AP[2] 1 -> 0 (writable); stage 2: S2AP[1] 0 -> 1
            assert bool(before & (1 << 7)) == (step.stage == 1), o.v["id"]
            assert o.category is None and o.match(o.qpar)
            dirty += 1
    # (the MANIFEST says 505, 244 with AF; the vectors have 216, 114 with AF)
    assert dirty == 216


# --------------------------------------------------------------------------- translate

def _outcome(t) -> tuple:
    if t.fault is not None:
        f = t.fault
        return ("fault", f.type, f.level, f.stage, f.s1ptw)
    return ("ok", t.output)


def test_translate_agrees_with_at():
    """translate with the vector's regime (what --regime selects), stages, EL, access and PAN."""
    cache: dict = {}
    mems = {b: O.regimes_memory(b) for b in all_outcomes()}
    n = 0
    for o in _flat():
        op = AT_OPS[o.v["op"]]
        regime = Regime[o.v["regime"]]
        key = (json.dumps(o.v["regs"], sort_keys=True), regime)
        setup = cache.get(key)
        if setup is None:
            setup = cache[key] = setup_from_registers(o.regs, regime)
        assert setup.regime is o.res.regime, o.v["id"]
        pan = op.pan and bool(o.v["pan"]) and regime.has_unprivileged
        t = translate(setup, mems[o.v["batch"]], o.res.va, stages=o.res.stages_used, access=op.access,
                      el=op.el, pan=pan)
        assert _outcome(t) == _outcome(o.res.translation), o.v["id"]
        n += 1
    assert n == sum(FAMILIES.values())


def _write_raw_image(batch: str, path: Path) -> str:
    lo, hi = O.RAM
    with open(path, "wb") as f:
        f.truncate(hi - lo)
        for pa, value in sorted(O.regimes_words(batch).items()):
            f.seek(pa - lo)
            f.write(struct.pack("<Q", value))
    return f"{path}@{lo:#x}"


@pytest.mark.parametrize("batch", O.regimes_batches() if O.regimes_available() else [])
def test_translate_cli_regime(batch, tmp_path, capsys):
    """``pgwalk translate --regime el2|el20|el3|el10 --el N --access A [--pan] --json``: a sample of
    register states per family (every departure category included), every address of each."""
    from pgwalk.cli import main

    groups: dict[tuple, list[Outcome]] = collections.defaultdict(list)
    for o in all_outcomes()[batch]:
        groups[(o.v["family"], json.dumps(o.v["regs"], sort_keys=True), o.v["op"], o.v["pan"])].append(o)
    picked, seen = [], collections.Counter()
    for key, items in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        cats = {o.category for o in items} - {None}
        if seen[key[0]] < 3 or (cats - set(seen)):
            picked.append(items)
            seen[key[0]] += 1
            seen.update(cats)
    image = _write_raw_image(batch, tmp_path / f"{batch}.raw")
    for items in picked:
        o = items[0]
        op = AT_OPS[o.v["op"]]
        regs = tmp_path / "regs.json"
        # (HCRX_EL2 and SCR_EL3 are not translation registers pgwalk takes)
        regs.write_text(json.dumps({k: f"{v:#x}" for k, v in o.regs.items() if k in KNOWN_REGISTERS}))
        args = ["translate", "-i", image, "--regs", str(regs), "--regime", o.v["regime"].lower(),
                "--el", str(op.el), "--access", op.access.value, "--stages", o.res.stages_used, "--json"]
        if op.pan and o.v["pan"]:
            args.append("--pan")
        capsys.readouterr()
        rc = main(args + [o.v["va"] for o in items])
        out, err = capsys.readouterr()
        got = [json.loads(line) for line in out.splitlines()]
        assert len(got) == len(items), err
        for x, d in zip(items, got):
            t = x.res.translation
            if t.fault is None:
                assert d["fault"] is None and int(d["pa" if t.stages != "1" else "ipa"], 16) == t.output, x.v["id"]
            else:
                f = d["fault"]
                assert (f["type"], f["level"], f["stage"], f["s1ptw"]) == \
                    (t.fault.type.value, t.fault.level, t.fault.stage, t.fault.s1ptw), x.v["id"]
        assert rc == (1 if any(x.res.translation.fault for x in items) else 0)
