"""``pgwalk at`` against the QEMU AT oracle (../shared/oracle/qemu-at, MANIFEST.md).

Every one of the 37,772 vectors goes through :class:`pgwalk.at.ATBatch`, the code
that ``pgwalk at --batch`` runs for each JSON line (the vector becomes the line
``{"id", "op", "va", "pan", "regs", "par"}``; ``"par": "exception"`` where QEMU
took a Data Abort instead of writing PAR_EL1).  A few hundred lines per family
also go through the real command line (``pgwalk at --batch FILE --json``) over a
raw image of the batch's memory, and must print the same objects.

* Every vector where QEMU follows the architecture must match exactly (PAR_EL1
  modulo NS, bit 11 and the IMPLEMENTATION DEFINED bits; or the same exception).
* Every vector where QEMU 7.2 departs from the architecture is checked against
  the architectural answer, argued from the Arm ARM pseudocode (DDI 0487, ASL)
  in :data:`ARGUMENTS` below, and pgwalk's explanation engine must name its
  category.  Four departures the generator did not tag are argued the same way
  (``fwb_memattr3_res0``, ``s1_off_shareability``, two illegal level 0 blocks and
  ``oa_beyond_ps_within_block``: 64KB level 1 blocks larger than the IPS).

``python -m pytest tests/test_at_oracle.py -s`` prints the per-family agreement
table; ``python tests/perf/oracle_summary.py`` prints it without pytest.
"""

from __future__ import annotations

import collections
import functools
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import oracle_at as O
from pgwalk import attrs as A
from pgwalk.at import ATBatch, parse_batch_line
from pgwalk.faults import FaultType, decode_fsc
from pgwalk.formats import descriptors as D
from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
from pgwalk.params import oa_out_of_range

pytestmark = pytest.mark.skipif(not O.available(), reason="QEMU AT oracle not present")

#: the ID registers the MANIFEST says to replay with (given as base registers, --reg)
BASE_REGS = {"ID_AA64MMFR0_EL1": O.MMFR0, "ID_AA64MMFR1_EL1": 0x11010211122,
             "ID_AA64MMFR2_EL1": 0x1021011010011011}

# --------------------------------------------------------------------------- the arguments
#
# Each entry: category -> the architectural answer, argued from the pseudocode.  The
# checker of the same name below asserts exactly that answer for every vector of the
# category.  Categories 1-10 are the MANIFEST's; the last four were not tagged by the
# generator (their vectors carry qemu_departs_from_architecture = false) and are
# recognised by rule in untagged_category().
ARGUMENTS = {
    "qemu_accepts_illegal_block":
        "AArch64.DecodeDescriptorType returns DescriptorType_Invalid for a block descriptor where "
        "AArch64.BlockDescSupported is FALSE (4KB L0 without DS, 4KB L-1, 16KB L0, 16KB L1 without DS; the "
        "same at stage 2), so S1Walk/S2Walk stop with Fault_Translation at that level before any OA, AF or "
        "permission check.  Answer: a Translation fault at the block's level and stage.  (s2_lpa2/00944 and "
        "00945 are tagged here; QEMU's fault there comes from rejecting start level -1 with a 50-bit IPA, "
        "category 7, but the architectural answer is the same.)",
    "qemu_abort_fault_at_level_minus1":
        "QEMU crashed: the level -1 block is illegal (BlockDescSupported is FALSE at level -1 with 4KB, DS=1), "
        "so the architecture never reaches the AF/permission check that tripped QEMU's assertion.  Answer: a "
        "Translation fault at level -1 (FST 0b101011).",
    "qemu_s2_ptw_fault_level":
        "A stage 2 fault on a stage 1 table read comes from AArch64.S2Translate/S2Walk called by S1Walk; "
        "S1Walk returns that s2fault unchanged, whose level S2Walk set to the stage 2 lookup level.  Answer: "
        "PAR.S = 1, PTW = 1, the same fault type, FST level = the stage 2 level (QEMU reports the stage 1 level).",
    "par_sh_reporting":
        "AArch64.EncodePAR sets PAR.SH = PAREncodeShareability(memattrs), which returns '10' for any Device "
        "memory and for Normal Inner+Outer Non-cacheable, whatever the descriptor or TCR SH field.  Answer: "
        "the same PA and ATTR, SH = 0b10.",
    "oa_hi_bits_ps_lt_52":
        "With PAMax = 52 the descriptor's OA[51:48] (64KB: bits[15:12], AArch64.NextTableBase/S1LeafBase with "
        "PAMax >= 52) or OA[51:50] (DS = 1: bits[9:8]) are address bits; S1Walk/S2Walk then test "
        "S1OAOutOfRange/S2OAOutOfRange against the {I}PS/PS size (below 52 bits here).  Answer: an Address "
        "size fault at the level of that descriptor.",
    "qemu_rejects_s2_16k_level0":
        "AArch64.S2InvalidSL allows 16KB SL0 = 0b11 (start level 0) when DS = 1 and PAMax = 52 (FEAT_LPA2), "
        "and S2InconsistentSL accepts it for a 48..52-bit IPA.  Answer: the walk runs from level 0 (anything "
        "but the stage 2 level 0 Translation fault QEMU gives).",
    "qemu_rejects_s2_level-1_ipa_lt_52":
        "AArch64.S2InconsistentSL for 4KB start level -1 accepts IPA sizes 49..52 bits (levels * stride + "
        "granule + 1 ..  + stride - 1 + 4), and S2InvalidSL allows SL2 = 1, SL0 = 0 with DS = 1 and PAMax 52. "
        "Answer: the walk runs from level -1.",
    "attr_combine_device":
        "S2CombineS1MemAttrs (FWB = 0): if exactly one stage is Device the result is that stage's Device type "
        "(memattrs = s1 or s2 Device attributes).  Answer: ATTR = the Device stage's type (QEMU derives it "
        "from the Normal stage's inner nibble).",
    "attr_combine_normal_hints":
        "S2CombineS1AttrHints: the cacheability is the weaker of the two (WT here) and hints and transient "
        "come from stage 1.  Answer: WT with stage 1's transient hint and RW allocation (0b00RW).",
    "attr_combine_fwb":
        "AArch64.S2ApplyFWBMemAttrs with MemAttr[2] = 0: if stage 1 is Device the type is "
        "S2CombineS1Device(s1, s2), the more restrictive.  Answer: the stronger of the two Device types.",
    "fwb_memattr3_res0":
        "(untagged) With HCR_EL2.FWB = 1, stage 2 descriptor bit 5 (MemAttr[3]) is RES0 (FEAT_MTE_PERM gives "
        "it a meaning only for NoTagAccess).  AArch64.S2ApplyFWBMemAttrs reads s2_attr = descriptor<5:2> but "
        "decides the type from s2_attr<2> and s2_attr<1:0> only (s2_attr<3:1> feeds notagaccess alone).  "
        "Answer: exactly the PAR the same descriptor gives with bit 5 clear.  QEMU 7.2 (combined_attrs_fwb) "
        "treats MemAttr values 8..15 as reserved and forces Device-nGnRnE (ATTR 0x00, SH 0b10).",
    "s1_off_shareability":
        "(untagged) Stage 1 disabled with HCR_EL2.DC = 0: AArch64.S1DisabledOutput gives Device-nGnRnE with "
        "Shareability_OSH.  With FWB = 1 and stage 2 MemAttr[2:0] = 0b110, S2ApplyFWBMemAttrs forces Normal WB "
        "(RWA, as stage 1 is Device) and sets shareability = S2CombineS1Shareability(OSH, s2_sh) = OSH.  "
        "Answer: ATTR 0xFF, SH = 0b10.  QEMU 7.2's get_phys_addr_disabled gives the Device result "
        "Non-shareable, so the combined SH is stage 2's.",
    "qemu_accepts_illegal_block (untagged)":
        "(untagged) s1_mixed/02499, 02500: a 4KB level 0 block with DS = 0 whose OA is above IPS (36 bits).  "
        "The TTBR base (0x42874000) and the level 0 descriptor address are inside 36 bits, so S1Walk's "
        "S1OAOutOfRange(descaddress) check before the fetch passes; DecodeDescriptorType then gives Invalid "
        "(BlockDescSupported is FALSE at 4KB level 0 without DS) and the walk ends with a Translation fault "
        "at level 0.  The output-address check (S1OAOutOfRange(oa)) runs only after a leaf, which this is "
        "not.  QEMU accepts the block (category 1) and reports its OA as an Address size fault.",
    "oa_beyond_ps_within_block (untagged)":
        "(untagged) A 64KB level 1 block (4TB) with IPS below 42 bits, its base inside IPS.  ASL S1Walk "
        "computes oa = StageOA(va, ...) -- the block base with VA[41:0] -- and tests S1OAOutOfRange(oa.address): "
        "address<55:IPS> must be zero, and here VA bits at or above IPS are not.  Answer: an Address size fault "
        "at level 1.  QEMU 7.2 (get_phys_addr_lpae) tests only the block's base and translates.",
}
UNTAGGED_ILLEGAL_BLOCK = {"s1_mixed/02499", "s1_mixed/02500"}


def batch_line(v: dict) -> dict:
    """A vector as a ``pgwalk at --batch`` line."""
    d = {"id": v["id"], "op": v["op"], "va": v["va"], "pan": v["pan"], "regs": v["regs"]}
    q = v["qemu"]
    if q["status"] == "ok":
        d["par"] = q["par"]
    elif q["status"] == "exception":
        d["par"] = "exception"
    return d


def write_raw_image(batch: str, path: Path) -> str:
    """A sparse raw image of the batch's RAM; returns the ``-i`` spec."""
    lo, hi = O.RAM
    with open(path, "wb") as f:
        f.truncate(hi - lo)
        for pa, value in sorted(O.words(batch).items()):
            f.seek(pa - lo)
            f.write(struct.pack("<Q", value))
    return f"{path}@{lo:#x}"


class Outcome:
    """One vector's run: the vector, the batch-line output, the ATResult and its setup."""

    __slots__ = ("v", "d", "res", "setup")

    def __init__(self, v, d, res, setup):
        self.v, self.d, self.res, self.setup = v, d, res, setup


def run_batch(batch: str) -> list[Outcome]:
    mem = O.memory(batch)
    b = ATBatch(mem, BASE_REGS, explain="known", where=batch)
    out = []
    for n, v in enumerate(O.vectors(batch), 1):
        line = parse_batch_line(json.dumps(batch_line(v)), n, batch)
        d, res, _ = b.run(line)
        out.append(Outcome(v, d, res, b.setup(line)))
    return out


@functools.lru_cache(maxsize=1)
def all_outcomes() -> dict[str, list[Outcome]]:
    return {b: run_batch(b) for b in O.batches()}


# --------------------------------------------------------------------------- classification

def untagged_category(o: Outcome) -> str | None:
    """The departure category of a vector the generator did not tag, by rule (only vectors
    that differ from QEMU: a rule's vector that happens to agree counts as a match)."""
    v, res, setup = o.v, o.res, o.setup
    if o.d.get("match", True):
        return None
    if v["id"] in UNTAGGED_ILLEGAL_BLOCK:
        return "qemu_accepts_illegal_block (untagged)"
    t = res.translation
    if O.block_oa_beyond(setup, t):
        return "oa_beyond_ps_within_block (untagged)"
    s2 = setup.s2
    if v["qemu"]["status"] != "ok" or res.par is None or res.par & 1 or s2 is None or not s2.fwb or t.s2 is None:
        return None
    memattr = D.S2_LEAF["MemAttr"].get(t.s2.raw)
    if memattr & 0b1000:
        return "fwb_memattr3_res0"
    if t.s1_disabled and not setup.dc and memattr & 0b111 == 0b110:
        return "s1_off_shareability"
    return None


def category_of(o: Outcome) -> str | None:
    if o.v["qemu_departs_from_architecture"]:
        return o.v["category"]
    return untagged_category(o)


def _qpar(o: Outcome) -> int:
    return int(o.v["qemu"]["par"], 16)


def _fault(par: int):
    info = decode_fsc(PAR_EL1_FAULT["FST"].get(par))
    return info.type, info.level, PAR_EL1_FAULT["S"].get(par), PAR_EL1_FAULT["PTW"].get(par)


# --------------------------------------------------------------------------- the checkers

def _illegal_block(o: Outcome) -> None:
    f = o.res.translation.fault
    assert f is not None and f.type is FaultType.TRANSLATION, (o.v["id"], f)
    step = [s for s in o.res.translation.steps if s.stage == f.stage][-1]
    assert step.kind == "illegal block" and step.level == f.level, (o.v["id"], step)
    assert o.res.par is not None and PAR_EL1_FAULT["FST"].get(o.res.par) == f.fsc


def check_qemu_accepts_illegal_block(o: Outcome) -> None:
    _illegal_block(o)


def check_qemu_abort_fault_at_level_minus1(o: Outcome) -> None:
    assert o.v["qemu"]["status"] == "crash"
    _illegal_block(o)
    assert o.res.translation.fault.level == -1 and PAR_EL1_FAULT["FST"].get(o.res.par) == 0b101011


def check_qemu_s2_ptw_fault_level(o: Outcome) -> None:
    t = o.res.translation
    f = t.fault
    assert f is not None and f.stage == 2 and f.s1ptw
    stype, slevel, s, ptw = _fault(o.res.par)
    qtype, qlevel, qs, qptw = _fault(_qpar(o))
    assert (s, ptw) == (qs, qptw) == (1, 1) and stype is qtype
    s2_level = [x.level for x in t.steps if x.stage == 2][-1]
    s1_level = [x.level for x in t.steps if x.stage == 1][-1]
    assert slevel == s2_level and qlevel == s1_level != s2_level


def check_par_sh_reporting(o: Outcome) -> None:
    sw, q = o.res.par, _qpar(o)
    assert not sw & 1 and not q & 1
    assert PAR_EL1_OK["PA"].get(sw) == PAR_EL1_OK["PA"].get(q)
    assert PAR_EL1_OK["ATTR"].get(sw) == PAR_EL1_OK["ATTR"].get(q)
    m = o.res.translation.attrs
    assert m.is_device or (m.inner.attrs == A.NC and m.outer.attrs == A.NC)
    assert PAR_EL1_OK["SH"].get(sw) == 0b10 != PAR_EL1_OK["SH"].get(q)


def check_oa_hi_bits_ps_lt_52(o: Outcome) -> None:
    t = o.res.translation
    f = t.fault
    assert f is not None and f.type is FaultType.ADDRESS_SIZE, (o.v["id"], f)
    step = [s for s in t.steps if s.stage == f.stage and s.level == f.level and s.raw is not None][-1]
    p = o.setup.s2 if f.stage == 2 else o.setup.s1_params(o.res.va)
    hi = D.LPA_OA_51_48.get(step.raw) if p.lpa64 else D.DS_OA_51_50.get(step.raw)
    assert hi and p.oa_bits < 52, (o.v["id"], hex(step.raw), p.oa_bits)


def _no_s2_l0_translation(o: Outcome) -> None:
    f = o.res.translation.fault
    assert not o.setup.s2.config_fault
    assert f is None or not (f.stage == 2 and f.type is FaultType.TRANSLATION and f.level == 0), (o.v["id"], f)
    assert _fault(_qpar(o))[:3] == (FaultType.TRANSLATION, 0, 1)


def check_qemu_rejects_s2_16k_level0(o: Outcome) -> None:
    s2 = o.setup.s2
    assert s2.granule_shift == 14 and s2.ds and s2.start_level == 0
    _no_s2_l0_translation(o)


def check_qemu_rejects_s2_level_minus1_ipa_lt_52(o: Outcome) -> None:
    s2 = o.setup.s2
    assert s2.granule_shift == 12 and s2.ds and s2.start_level == -1 and 49 <= s2.iasize <= 51
    _no_s2_l0_translation(o)


def _s1_s2_attrs(o: Outcome):
    t = o.res.translation
    s1 = t.s1.attrs if t.s1 is not None else (A.NORMAL_WB if o.setup.dc else A.DEVICE_nGnRnE)
    return s1, t.s2


def check_attr_combine_device(o: Outcome) -> None:
    s1, s2leaf = _s1_s2_attrs(o)
    s2 = s2leaf.attrs
    assert not o.setup.s2.fwb and s1.is_device != s2.is_device
    dev = s1 if s1.is_device else s2
    sw = o.res.par
    assert PAR_EL1_OK["ATTR"].get(sw) == A.DEVICE_TYPES.index(dev.device) << 2
    assert PAR_EL1_OK["ATTR"].get(sw) != PAR_EL1_OK["ATTR"].get(_qpar(o))


def check_attr_combine_normal_hints(o: Outcome) -> None:
    s1, s2leaf = _s1_s2_attrs(o)
    assert not o.setup.s2.fwb and not s1.is_device and not s2leaf.attrs.is_device
    m = o.res.translation.attrs
    for mine, theirs in ((m.inner, s1.inner), (m.outer, s1.outer)):
        if mine.attrs == A.WT:
            assert mine.transient == theirs.transient and mine.hints == theirs.hints
    assert any(c.attrs == A.WT and c.transient for c in (m.inner, m.outer))


def check_attr_combine_fwb(o: Outcome) -> None:
    s1, s2leaf = _s1_s2_attrs(o)
    memattr = D.S2_LEAF["MemAttr"].get(s2leaf.raw)
    assert o.setup.s2.fwb and not memattr & 0b100 and s1.is_device
    want = A.s2_combine_s1_device(s1.device, A.DEVICE_TYPES[memattr & 3])
    assert o.res.translation.attrs.device == want
    assert PAR_EL1_OK["ATTR"].get(o.res.par) == A.DEVICE_TYPES.index(want) << 2


def check_fwb_memattr3_res0(o: Outcome) -> None:
    from pgwalk.at import _Overlay, at

    t = o.res.translation
    step = [s for s in t.steps if s.stage == 2 and s.kind in ("block", "page")][-1]
    cleared = step.raw & ~(1 << 5)
    again = at(o.setup, _Overlay(O.memory(o.v["batch"]), {step.desc_pa: cleared}), o.res.op, o.res.va,
               pan=o.res.pan)
    assert again.par == o.res.par, o.v["id"]
    q = _qpar(o)
    assert PAR_EL1_OK["ATTR"].get(q) == 0 and PAR_EL1_OK["SH"].get(q) == 0b10


def check_oa_beyond_ps_within_block(o: Outcome) -> None:
    t = o.res.translation
    f = t.fault
    assert O.block_oa_beyond(o.setup, t) and (f.type, f.level, f.stage) == (FaultType.ADDRESS_SIZE, 1, 1)
    step = [s for s in t.steps if s.stage == 1 and s.level == 1][-1]
    p = o.setup.s1_params(o.res.va)
    oa = step.next_addr | (o.res.va & ((1 << 42) - 1))
    assert p.granule_shift == 16 and p.oa_bits < 42 and oa_out_of_range(oa, p.oa_bits)
    q = _qpar(o)
    if q & 1:      # QEMU: a fault S1Walk/S1Translate check after the output address (AF, permission)
        assert _fault(q)[:3] in ((FaultType.ACCESS_FLAG, 1, 0), (FaultType.PERMISSION, 1, 0)), o.v["id"]
    else:          # QEMU: the out-of-range output address itself
        assert PAR_EL1_OK["PA"].get(q) == oa >> 12, o.v["id"]


def check_s1_off_shareability(o: Outcome) -> None:
    sw, q = o.res.par, _qpar(o)
    assert PAR_EL1_OK["ATTR"].get(sw) == 0xFF and PAR_EL1_OK["SH"].get(sw) == 0b10
    assert PAR_EL1_OK["ATTR"].get(q) == 0xFF and PAR_EL1_OK["SH"].get(q) == o.res.translation.s2.sh != 0b10


CHECKERS = {
    "qemu_accepts_illegal_block": check_qemu_accepts_illegal_block,
    "qemu_accepts_illegal_block (untagged)": check_qemu_accepts_illegal_block,
    "qemu_abort_fault_at_level_minus1": check_qemu_abort_fault_at_level_minus1,
    "qemu_s2_ptw_fault_level": check_qemu_s2_ptw_fault_level,
    "par_sh_reporting": check_par_sh_reporting,
    "oa_hi_bits_ps_lt_52": check_oa_hi_bits_ps_lt_52,
    "qemu_rejects_s2_16k_level0": check_qemu_rejects_s2_16k_level0,
    "qemu_rejects_s2_level-1_ipa_lt_52": check_qemu_rejects_s2_level_minus1_ipa_lt_52,
    "attr_combine_device": check_attr_combine_device,
    "attr_combine_normal_hints": check_attr_combine_normal_hints,
    "attr_combine_fwb": check_attr_combine_fwb,
    "fwb_memattr3_res0": check_fwb_memattr3_res0,
    "s1_off_shareability": check_s1_off_shareability,
    "oa_beyond_ps_within_block (untagged)": check_oa_beyond_ps_within_block,
}
#: The category name pgwalk's explanation engine gives each departure
ENGINE_NAME = {"qemu_accepts_illegal_block (untagged)": "qemu_accepts_illegal_block",
               "oa_beyond_ps_within_block (untagged)": "oa_beyond_ps_within_block"}


# --------------------------------------------------------------------------- summary

def summary() -> tuple[dict, dict]:
    """Per family: vectors, matches, departures (argued), crash; per category: counts."""
    fam: dict = collections.defaultdict(collections.Counter)
    cats: collections.Counter = collections.Counter()
    for outcomes in all_outcomes().values():
        for o in outcomes:
            c = fam[o.v["family"]]
            c["vectors"] += 1
            cat = category_of(o)
            if o.v["qemu"]["status"] == "crash":
                c["departures"] += 1
                cats[cat] += 1
            elif o.d["match"]:
                c["matches"] += 1
                if o.v["qemu"]["status"] == "exception":
                    c["exceptions"] += 1
            elif cat is not None:
                c["departures"] += 1
                cats[cat] += 1
            else:
                c["unexplained"] += 1
    return fam, cats


def summary_text() -> str:
    fam, cats = summary()
    lines = [f"{'family':22} {'vectors':>8} {'match':>7} {'(exc)':>6} {'depart':>7} {'other':>6}  agreement*"]
    tot = collections.Counter()
    for name in sorted(fam):
        c = fam[name]
        tot.update(c)
        base = c["vectors"] - c["departures"]
        pct = 100.0 * c["matches"] / base if base else 100.0
        lines.append(f"{name:22} {c['vectors']:8} {c['matches']:7} {c['exceptions']:6} {c['departures']:7} "
                     f"{c['unexplained']:6}  {pct:6.2f} %")
    base = tot["vectors"] - tot["departures"]
    lines.append(f"{'total':22} {tot['vectors']:8} {tot['matches']:7} {tot['exceptions']:6} {tot['departures']:7} "
                 f"{tot['unexplained']:6}  {100.0 * tot['matches'] / base:6.2f} %")
    lines.append("* of the vectors where QEMU follows the architecture; every departure is argued "
                 "(tests/test_at_oracle.py ARGUMENTS)")
    lines.append("")
    lines.append("departures by category:")
    for cat, n in sorted(cats.items(), key=lambda x: -x[1]):
        lines.append(f"  {cat:40} {n:5}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the tests

def test_vector_count():
    assert sum(len(v) for v in all_outcomes().values()) == 37772


@pytest.mark.parametrize("batch", O.batches() if O.available() else [])
def test_architectural_vectors_match(batch):
    """Every vector where QEMU follows the architecture gives the same PAR (or exception)."""
    wrong = []
    n = 0
    for o in all_outcomes()[batch]:
        if category_of(o) is not None or o.v["qemu"]["status"] == "crash":
            continue
        n += 1
        if not o.d["match"]:
            wrong.append((o.v["id"], o.v["op"], o.v["intent"], o.d["par"], o.d["captured"], o.d["diff"]))
    assert n > 0
    assert not wrong, f"{len(wrong)} of {n} differ; first: {wrong[:3]}"


def test_exceptions_are_external_aborts_on_the_walk():
    """QEMU's 'exception' vectors: the walk reads outside RAM; the architecture raises a
    synchronous external abort (ASL AArch64.AT: IsExternalAbort -> AArch64.Abort, PAR UNKNOWN)."""
    n = 0
    for outcomes in all_outcomes().values():
        for o in outcomes:
            if o.v["qemu"]["status"] == "exception":
                n += 1
                f = o.res.translation.fault
                assert o.res.par is None and f.type is FaultType.SYNC_EXTERNAL_ON_WALK and f.not_in_image
                assert o.d["match"] and o.d["exception"]
    assert n == 116


def _by_category() -> dict[str, list[Outcome]]:
    out = collections.defaultdict(list)
    for outcomes in all_outcomes().values():
        for o in outcomes:
            cat = category_of(o)
            if cat is not None:
                out[cat].append(o)
    return out


@pytest.mark.parametrize("category", sorted(CHECKERS))
def test_departure_gets_the_architectural_answer(category):
    """See ARGUMENTS[category] for the pseudocode argument."""
    assert category in ARGUMENTS
    vectors = _by_category().get(category, [])
    assert vectors, category
    for o in vectors:
        CHECKERS[category](o)
        if o.v["qemu"]["status"] == "ok":
            assert not o.d["match"], (o.v["id"], "a departure must differ from QEMU")
            names = {r.get("category") for r in o.d["reasons"]}
            assert ENGINE_NAME.get(category, category) in names, (o.v["id"], o.d["reasons"])


def test_departure_counts():
    """The MANIFEST's counts for this seed, plus the untagged ones."""
    counts = {k: len(v) for k, v in _by_category().items()}
    assert counts == {
        "qemu_accepts_illegal_block": 496, "qemu_abort_fault_at_level_minus1": 19,
        "qemu_s2_ptw_fault_level": 1013, "par_sh_reporting": 2025, "oa_hi_bits_ps_lt_52": 644,
        "qemu_rejects_s2_16k_level0": 202, "qemu_rejects_s2_level-1_ipa_lt_52": 135,
        "attr_combine_device": 11, "attr_combine_normal_hints": 13, "attr_combine_fwb": 15,
        "fwb_memattr3_res0": 156, "s1_off_shareability": 5, "qemu_accepts_illegal_block (untagged)": 2,
        "oa_beyond_ps_within_block (untagged)": 25,
    }


def test_summary(capsys):
    fam, _ = summary()
    text = summary_text()
    with capsys.disabled():
        print("\n" + text)
    for name, c in fam.items():
        assert c["unexplained"] == 0, name
        assert c["matches"] + c["departures"] == c["vectors"], name


# --------------------------------------------------------------------------- the real command line

def _cli_sample(outcomes: list[Outcome], per_family: int = 250) -> list[Outcome]:
    """Up to ``per_family`` lines per family: every departure category represented, the rest spread."""
    by_fam = collections.defaultdict(list)
    for o in outcomes:
        by_fam[o.v["family"]].append(o)
    picked = []
    for fam, items in by_fam.items():
        seen = collections.Counter()
        chosen = []
        for o in items:
            cat = category_of(o)
            if cat is not None and seen[cat] < 8:
                seen[cat] += 1
                chosen.append(o)
        rest = [o for o in items if o not in chosen]
        step = max(1, len(rest) // max(1, per_family - len(chosen)))
        chosen += rest[::step][: per_family - len(chosen)]
        picked += chosen
    return picked


def _cli_args(batch_file: Path, image: str) -> list[str]:
    args = ["at", "--batch", str(batch_file), "--json", "--explain", "known", "-i", image]
    for k, v in BASE_REGS.items():
        args += ["--reg", f"{k}={v:#x}"]
    return args


@pytest.mark.parametrize("batch", O.batches() if O.available() else [])
def test_cli_batch_agrees(batch, tmp_path, capsys):
    from pgwalk.cli import main

    sample = _cli_sample(all_outcomes()[batch])
    lines = tmp_path / f"{batch}.jsonl"
    lines.write_text("".join(json.dumps(batch_line(o.v)) + "\n" for o in sample))
    image = write_raw_image(batch, tmp_path / f"{batch}.raw")
    capsys.readouterr()
    rc = main(_cli_args(lines, image))
    out, err = capsys.readouterr()
    got = [json.loads(x) for x in out.splitlines()]
    assert len(got) == len(sample), err
    for o, d in zip(sample, got):
        want = dict(o.d)
        want["line"] = d["line"]          # line numbers differ: the sample is a subset
        assert d == json.loads(json.dumps(want)), o.v["id"]
    assert rc == (1 if any(not d["match"] for d in got if "match" in d) else 0)


def test_cli_subprocess_exit_status(tmp_path):
    """The installed entry point, end to end: exit 1 on a mismatch, 0 when all match."""
    outcomes = all_outcomes()["pan"]
    good = [o for o in outcomes if o.d["match"]][:150]
    bad = [o for o in outcomes if not o.d["match"]][:5]
    image = write_raw_image("pan", tmp_path / "pan.raw")
    for name, items, want in (("good", good, 0), ("mixed", good + bad, 1)):
        f = tmp_path / f"{name}.jsonl"
        f.write_text("".join(json.dumps(batch_line(o.v)) + "\n" for o in items))
        r = subprocess.run([sys.executable, "-m", "pgwalk.cli", *_cli_args(f, image)],
                           capture_output=True, text=True)
        assert r.returncode == want, r.stderr
        assert len(r.stdout.splitlines()) == len(items)
