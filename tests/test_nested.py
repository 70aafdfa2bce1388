"""Nested virtualisation (issue 18): L2 stage 1 -> L1's virtual stage 2 -> L0's stage 2.

Worlds are built with the table builder, one granule per layer (all 27 combinations),
with faults planted in each layer; the composed walk must equal the two walks chained by
hand (the guest's two-stage walk over L1's IPA space laid out flat, then the host's stage 2),
and every fault must be attributed to the layer that caused it, with the syndrome each
party receives.
"""

from __future__ import annotations

import itertools

import pytest

from pgwalk.builder import S1Attrs, S2Attrs, TableBuilder
from pgwalk.faults import FaultType
from pgwalk.formats.esr import ESR, ISS_DABT
from pgwalk.formats.registers import HPFAR_EL2
from pgwalk.memory import PhysicalMemory
from pgwalk.nested import nested_setup, translate_nested
from pgwalk.params import Regime, setup_from_registers
from pgwalk.perms import Access
from pgwalk.walk import translate

MB2 = 0x20_0000
HOST_TABLES = 0x4000_0000          # PA
L1_TABLES_IPA = 0x8000_0000        # L1 IPA of L1's stage 2 tables
L1_TABLES_PA = 0x5000_0000
L2_TABLES_L2IPA = 0x1000_0000      # L2 IPA of L2's stage 1 tables
L2_TABLES_L1IPA = 0x8020_0000
L2_TABLES_PA = 0x5020_0000
AREA = 0x10_0000

VA_OK = 0x40_0000                  # -> L2 IPA 0x2000_0000 -> L1 IPA 0x9000_0000 -> PA 0x6000_0000
VA_L1_FAULT = 0x80_0000            # -> L2 IPA 0x3000_0000, which L1 does not map
VA_L0_FAULT = 0xC0_0000            # -> L2 IPA 0x2040_0000 -> L1 IPA 0xA000_0000, which L0 does not map
VA_L2_FAULT = 0x100_0000           # not mapped by L2
VA_RO = 0x140_0000                 # read-only at L1's stage 2


def world(g2: int, g1: int, g0: int, *, fetch_hole: bool = False, concat1: int | None = None,
          concat0: int | None = None):
    host = TableBuilder(stage=2, granule=g0, ia_bits=40, table_base=HOST_TABLES, table_limit=HOST_TABLES + AREA,
                        pa_bits=40, concat=concat0)
    l1 = TableBuilder(stage=2, granule=g1, ia_bits=40, table_base=L1_TABLES_IPA,
                      table_limit=L1_TABLES_IPA + AREA, pa_bits=40, concat=concat1)
    l2 = TableBuilder(stage=1, granule=g2, ia_bits=39 if g2 == 4096 else 42 if g2 == 65536 else 36,
                      table_base=L2_TABLES_L2IPA, table_limit=L2_TABLES_L2IPA + AREA, pa_bits=40)
    for va, ipa in ((VA_OK, 0x2000_0000), (VA_L1_FAULT, 0x3000_0000), (VA_L0_FAULT, 0x2040_0000),
                    (VA_RO, 0x2080_0000)):
        l2.map(va, ipa, MB2, S1Attrs(ap=0b01))
    l1.map(L2_TABLES_L2IPA, L2_TABLES_L1IPA, AREA)
    l1.map(0x2000_0000, 0x9000_0000, MB2)
    l1.map(0x2040_0000, 0xA000_0000, MB2)
    l1.map(0x2080_0000, 0x9020_0000, MB2, S2Attrs(s2ap=0b01))
    host.map(L1_TABLES_IPA, L1_TABLES_PA, AREA)
    if fetch_hole:
        host.map(L2_TABLES_L1IPA, L2_TABLES_PA, 1 << host.g)     # only the root of L2's stage 1 tables
    else:
        host.map(L2_TABLES_L1IPA, L2_TABLES_PA, AREA)
    host.map(0x9000_0000, 0x6000_0000, 2 * MB2)
    (hbuf,), (l1buf,), (l2buf,) = host.chunks().values(), l1.chunks().values(), l2.chunks().values()
    mem = PhysicalMemory.from_buffers({HOST_TABLES: hbuf, L1_TABLES_PA: l1buf, L2_TABLES_PA: l2buf})
    # L1's IPA space laid out flat: what the L2 guest's two-stage walk reads, chained by hand
    mem_l1 = PhysicalMemory.from_buffers({L1_TABLES_IPA: l1buf, L2_TABLES_L1IPA: l2buf})
    return l2.registers(), l1.registers(), host.registers(), mem, mem_l1


GRANULES = (4096, 16384, 65536)


@pytest.mark.parametrize("g2,g1,g0", list(itertools.product(GRANULES, repeat=3)))
def test_composed_walk_equals_the_walks_chained_by_hand(g2, g1, g0):
    l2r, l1r, hr, mem, mem_l1 = world(g2, g1, g0)
    n = nested_setup(l2r, l1r, hr)
    guest = setup_from_registers({**l1r, **{k: v for k, v in l2r.items() if k not in ("HCR_EL2", "VTCR_EL2",
                                                                                       "VTTBR_EL2")}}, Regime.EL10)
    host = setup_from_registers(hr, Regime.EL10, stage1=False)
    for va in (VA_OK, VA_OK + 0x1238, VA_OK + MB2 - 8, VA_L1_FAULT, VA_L0_FAULT + 0x10, VA_L2_FAULT, VA_RO + 8):
        r = translate_nested(n, mem, va)
        g = translate(guest, mem_l1, va)
        if g.fault is not None:
            assert r.fault == g.fault and r.pa is None, hex(va)
            continue
        h = translate(host, mem, g.pa, stages="2")
        assert r.l2_ipa == g.ipa and r.l1_ipa == g.pa
        assert r.fault == h.fault and r.pa == h.pa, hex(va)
    assert translate_nested(n, mem, VA_OK + 0x1234).pa == 0x6000_1234


@pytest.mark.parametrize("g1,c1,g0,c0", [(4096, 2, 16384, 16), (16384, 16, 4096, 2), (16384, 16, 16384, 16)])
def test_concatenated_roots_in_each_stage_2(g1, c1, g0, c0):
    l2r, l1r, hr, mem, mem_l1 = world(4096, g1, g0, concat1=c1, concat0=c0)
    n = nested_setup(l2r, l1r, hr)
    assert n.guest.s2.concatenated == c1 and n.host.s2.concatenated == c0
    assert translate_nested(n, mem, VA_OK + 0x20).pa == 0x6000_0020
    assert [translate_nested(n, mem, va).fault_layer for va in (VA_L1_FAULT, VA_L0_FAULT, VA_L2_FAULT)] == \
        ["L1 S2", "L0 S2", "L2 S1"]


def test_each_layer_is_blamed_for_its_own_fault():
    n_args = world(4096, 16384, 4096)
    l2r, l1r, hr, mem, _ = n_args
    n = nested_setup(l2r, l1r, hr)
    r = translate_nested(n, mem, VA_L2_FAULT, access=Access.READ)
    assert r.fault_layer == "L2 S1" and r.fault.type is FaultType.TRANSLATION and r.fault.stage == 1
    (d,) = r.deliveries
    assert d.party == "L2 EL1" and d.registers["FAR_EL1"] == VA_L2_FAULT
    assert ESR["EC"].get(d.registers["ESR_EL1"]) == 0x25            # data abort from the same EL

    r = translate_nested(n, mem, VA_L1_FAULT + 0x10, access=Access.WRITE, el=0)
    assert r.fault_layer == "L1 S2" and r.fault.stage == 2 and not r.fault.s1ptw
    l0, l1 = r.deliveries
    assert l1.party == "L1 (virtual EL2)"
    esr = l1.registers["ESR_EL2"]
    assert ESR["EC"].get(esr) == 0x24 and ISS_DABT["WnR"].get(ESR["ISS"].get(esr)) == 1
    assert ISS_DABT["DFSC"].get(ESR["ISS"].get(esr)) == 0b000100 | (r.fault.level & 3)   # translation, level n
    assert HPFAR_EL2["FIPA"].get(l1.registers["HPFAR_EL2"]) == 0x3000_0010 >> 12
    assert l1.registers["FAR_EL2"] == VA_L1_FAULT + 0x10

    r = translate_nested(n, mem, VA_L0_FAULT, access=Access.READ)
    assert r.fault_layer == "L0 S2" and r.fault.ipa == 0xA000_0000 and r.l1_ipa == 0xA000_0000
    assert "nothing is injected" in r.deliveries[0].text

    r = translate_nested(n, mem, VA_RO, access=Access.WRITE)
    assert r.fault_layer == "L1 S2" and r.fault.type is FaultType.PERMISSION
    assert translate_nested(n, mem, VA_RO, access=Access.READ).ok


@pytest.mark.parametrize("g2,g1,g0", [(4096, 4096, 4096), (16384, 65536, 4096), (65536, 4096, 16384)])
def test_a_fetch_the_host_does_not_map_is_the_hosts_fault(g2, g1, g0):
    l2r, l1r, hr, mem, _ = world(g2, g1, g0, fetch_hole=True)
    n = nested_setup(l2r, l1r, hr)
    r = translate_nested(n, mem, VA_OK)
    assert r.fault_layer == "L0 S2" and r.fault.stage == 2
    assert L2_TABLES_L1IPA < r.fault.ipa < L2_TABLES_L1IPA + AREA      # an L1 IPA of L2's stage 1 tables
    # the trace: L0 reads precede the inner read they serve; every layer is labelled
    layers = [s.layer for s in r.steps]
    assert layers[0] == "L0 S2" and "L1 S2" in layers and "L2 S1" in layers
    assert any("fetch of the L1 S2" in s.purpose for s in r.steps)


def test_trace_labels_every_read_with_its_layer_and_space():
    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096)
    r = translate_nested(nested_setup(l2r, l1r, hr), mem, VA_OK + 0x40)
    assert r.ok and r.pa == 0x6000_0040
    by_layer = {s.layer: s.space for s in r.steps}
    assert by_layer == {"L0 S2": "PA", "L1 S2": "L1 IPA", "L2 S1": "L2 IPA"}
    # the final L0 walk of the output comes last
    assert r.steps[-1].layer == "L0 S2" and "-> PA" in r.steps[-1].purpose


def test_l1_without_stage_2_is_identity():
    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096)
    l1r = dict(l1r, HCR_EL2=l1r["HCR_EL2"] & ~1)
    n = nested_setup(l2r, l1r, hr)
    assert any("HCR_EL2.VM = 0" in s for s in n.notes)
    # the L2 S1 tables are now read at L1 IPA = L2 IPA 0x1000_0000, which L0 does not map
    r = translate_nested(n, mem, VA_OK)
    assert r.fault_layer == "L0 S2" and r.fault.ipa == L2_TABLES_L2IPA


# --------------------------------------------------------------------------- the CLI


def _files(tmp_path, **kw):
    import json

    l2r, l1r, hr, mem, _ = world(4096, 16384, 4096, **kw)
    images = []
    for k, r in enumerate(mem.regions):           # one raw file per table area, each at its PA
        p = tmp_path / f"part{k}.img"
        p.write_bytes(mem.read(r.base, r.size))
        images += ["-i", f"{p}@{r.base:#x}"]
    paths = []
    for name, regs in (("l2", l2r), ("l1", l1r), ("l0", hr)):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
        paths.append(str(p))
    return images, paths


def test_cli_translate_nested(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_hostile_cli import cli

    images, (l2, l1, l0) = _files(tmp_path)
    base = ("translate", "--nested", *images, "--regs", l2, "--guest-hyp", l1, "--host", l0)
    rc, out, err = cli(*base, hex(VA_OK + 0x44))
    assert rc == 0, err
    assert out.splitlines()[0] == ("L2 VA 0x400044 -> L2 IPA 0x20000044 -> L1 IPA 0x90000044 -> PA 0x60000044")
    assert {"L0 S2", "L1 S2", "L2 S1"} <= {ln.split()[0] + " " + ln.split()[1] for ln in out.splitlines()[1:]}
    rc, out, err = cli(*base, "--json", "--access", "write", hex(VA_L1_FAULT))
    assert rc == 1, err
    d = json.loads(out)
    assert d["fault"]["layer"] == "L1 S2" and d["pa"] is None and "steps" not in d
    assert [x["party"] for x in d["deliveries"]] == ["L0 (EL2)", "L1 (virtual EL2)"]
    assert d["deliveries"][1]["registers"]["HPFAR_EL2"] == hex((0x3000_0000 >> 12) << 4)
    rc, out, err = cli("translate", "--nested", *images, "--regs", l2, "--host", l0, "0x400000")
    assert rc == 2 and "--guest-hyp" in err and "Traceback" not in err


# --------------------------------------------------------------------------- the bug classes of nested walkers


def _with_parange(regs, bits):
    from pgwalk.formats.registers import ID_AA64MMFR0_EL1

    code = {32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6}[bits]
    return dict(regs, ID_AA64MMFR0_EL1=ID_AA64MMFR0_EL1["PARange"].put(regs["ID_AA64MMFR0_EL1"], code))


def test_start_level_is_checked_against_each_layers_pamax_not_the_input_size():
    """4KB stage 2 start level 0 (SL0 = 0b10) needs PAMax >= 44 (ASL AArch64.S2InvalidSL); a 40-bit
    IPA is consistent with it (S2InconsistentSL), so a walker checking the input size accepts it."""
    from pgwalk.formats.registers import VTCR_EL2

    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096)
    l1_sl0 = dict(l1r, VTCR_EL2=VTCR_EL2["SL0"].put(l1r["VTCR_EL2"], 0b10))   # start level 0, 40-bit IPA
    ok = translate_nested(nested_setup(l2r, l1_sl0, hr), mem, VA_OK)          # L1 sees a 52-bit PAMax: fine
    assert ok.ok and ok.pa == 0x6000_0000
    r = translate_nested(nested_setup(l2r, _with_parange(l1_sl0, 40), hr), mem, VA_OK)
    assert r.fault_layer == "L1 S2" and r.fault.type is FaultType.TRANSLATION and r.fault.level == 0
    assert "PAMax" in r.fault.reason
    # each layer its own PAMax: L1 seeing 52 bits is fine under a 44-bit host, and L1 seeing 40 bits faults
    # under a 52-bit host
    assert translate_nested(nested_setup(l2r, l1_sl0, _with_parange(hr, 44)), mem, VA_OK).ok
    r = translate_nested(nested_setup(_with_parange(l2r, 52), _with_parange(l1_sl0, 40), hr), mem, VA_OK)
    assert r.fault_layer == "L1 S2" and r.fault.level == 0


def test_a_base_beyond_the_output_size_is_an_address_size_fault_at_level_0():
    from pgwalk.formats.registers import VTTBR_EL2

    l2r, l1r, hr, mem, _ = world(4096, 16384, 4096)
    bad = dict(l1r, VTTBR_EL2=VTTBR_EL2["BADDR"].put(l1r["VTTBR_EL2"], (1 << 44) >> 1))
    r = translate_nested(nested_setup(l2r, bad, hr), mem, VA_OK, access=Access.READ)
    assert r.fault_layer == "L1 S2" and r.fault.type is FaultType.ADDRESS_SIZE and r.fault.level == 0
    assert r.fault.s1ptw                                           # the first L2 S1 fetch needs L1's stage 2
    esr = r.deliveries[1].registers["ESR_EL2"]
    assert ISS_DABT["DFSC"].get(ESR["ISS"].get(esr)) == 0x00 and ISS_DABT["S1PTW"].get(ESR["ISS"].get(esr)) == 1


def test_level_minus_one_faults_in_each_layer_have_their_own_fsc():
    """LPA2 (DS = 1) 52-bit trees start at level -1 in both guest layers: FSC 0x2B is a level -1
    Translation fault (not level 3, as a 2-bit level field would make it)."""
    host = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=HOST_TABLES, table_limit=HOST_TABLES + AREA,
                        pa_bits=48)
    l1 = TableBuilder(stage=2, granule=4096, ia_bits=52, ds=True, start_level=-1, table_base=L1_TABLES_IPA,
                      table_limit=L1_TABLES_IPA + AREA, pa_bits=52)
    l2 = TableBuilder(stage=1, granule=4096, ia_bits=52, ds=True, table_base=L2_TABLES_L2IPA,
                      table_limit=L2_TABLES_L2IPA + AREA, pa_bits=52)
    assert l1.start_level == l2.start_level == -1
    l2.map(VA_OK, 0x2000_0000, MB2)
    l2.map(VA_L1_FAULT, 1 << 50, MB2)                    # an L2 IPA L1's level -1 table does not map
    l1.map(L2_TABLES_L2IPA, L2_TABLES_L1IPA, AREA)
    l1.map(0x2000_0000, 0x9000_0000, MB2)
    host.map(L1_TABLES_IPA, L1_TABLES_PA, AREA)
    host.map(L2_TABLES_L1IPA, L2_TABLES_PA, AREA)
    host.map(0x9000_0000, 0x6000_0000, MB2)
    (hb,), (b1,), (b2,) = host.chunks().values(), l1.chunks().values(), l2.chunks().values()
    mem = PhysicalMemory.from_buffers({HOST_TABLES: hb, L1_TABLES_PA: b1, L2_TABLES_PA: b2})
    n = nested_setup(l2.registers(), l1.registers(), host.registers())
    assert translate_nested(n, mem, VA_OK + 8).pa == 0x6000_0008
    r = translate_nested(n, mem, 1 << 50, access=Access.READ)         # a hole in L2's level -1 table
    assert r.fault_layer == "L2 S1" and r.fault.level == -1
    assert ISS_DABT["DFSC"].get(ESR["ISS"].get(r.deliveries[0].registers["ESR_EL1"])) == 0x2B
    r = translate_nested(n, mem, VA_L1_FAULT, access=Access.READ)
    assert r.fault_layer == "L1 S2" and r.fault.level == -1
    assert ISS_DABT["DFSC"].get(ESR["ISS"].get(r.deliveries[1].registers["ESR_EL2"])) == 0x2B


# --------------------------------------------------------------------------- AT


def test_at_by_l2_and_emulated_for_l1():
    from pgwalk.formats.registers import PAR_EL1_FAULT, PAR_EL1_OK
    from pgwalk.nested import at_nested

    l2r, l1r, hr, mem, _ = world(4096, 16384, 65536)
    n = nested_setup(l2r, l1r, hr)
    r = at_nested(n, mem, "S1E1R", VA_OK + 0x10, by="L2")            # L2's PAR holds the L2 IPA
    assert PAR_EL1_OK["PA"].get(r.par) << 12 == 0x2000_0000 and r.fault_layer is None
    r = at_nested(n, mem, "S12E1R", VA_OK + 0x10, by="L1")           # L1's: the L1 IPA, L1's "PA"
    assert PAR_EL1_OK["PA"].get(r.par) << 12 == 0x9000_0000
    r = at_nested(n, mem, "S12E1R", VA_L0_FAULT, by="L1")            # L0 does not take part in the output
    assert PAR_EL1_OK["PA"].get(r.par) << 12 == 0xA000_0000
    r = at_nested(n, mem, "S12E1W", VA_RO, by="L1")                  # L1's stage 2 fault: in PAR, S = 1
    assert r.fault_layer == "L1 S2" and PAR_EL1_FAULT["S"].get(r.par) == 1
    assert PAR_EL1_FAULT["FST"].get(r.par) == 0b001100 | r.result.translation.fault.level
    r = at_nested(n, mem, "S1E1R", VA_L2_FAULT, by="L2")
    assert r.fault_layer == "L2 S1" and PAR_EL1_FAULT["S"].get(r.par) == 0
    with pytest.raises(Exception, match="EL2 operation"):
        at_nested(n, mem, "S12E1R", VA_OK, by="L2")


def test_at_pan_is_the_executing_contexts():
    """AT S1E1RP honours PSTATE.PAN (a KVM emulation that drops it answers as S1E1R)."""
    from pgwalk.nested import at_nested

    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096)
    n = nested_setup(l2r, l1r, hr)
    # VA_OK is an EL0-accessible page (AP = 01): with PAN an EL1 read is denied
    assert at_nested(n, mem, "S1E1RP", VA_OK, by="L1", pan=True).par & 1
    assert not at_nested(n, mem, "S1E1RP", VA_OK, by="L1", pan=False).par & 1
    assert not at_nested(n, mem, "S1E1R", VA_OK, by="L1", pan=True).par & 1


def test_at_s2_fault_on_the_walk_by_l2_is_an_exception_to_inject():
    from pgwalk.formats.registers import VTTBR_EL2
    from pgwalk.nested import at_nested

    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096)
    bad = dict(l1r, VTTBR_EL2=VTTBR_EL2["BADDR"].put(l1r["VTTBR_EL2"], (1 << 44) >> 1))
    r = at_nested(nested_setup(l2r, bad, hr), mem, "S1E1R", VA_OK, by="L2")
    assert r.par is None and r.fault_layer == "L1 S2"
    esr = r.deliveries[0].registers["ESR_EL2"]
    iss = ESR["ISS"].get(esr)
    assert ISS_DABT["CM"].get(iss) == 1 and ISS_DABT["S1PTW"].get(iss) == 1
    l2r, l1r, hr, mem, _ = world(4096, 4096, 4096, fetch_hole=True)
    r = at_nested(nested_setup(l2r, l1r, hr), mem, "S1E1R", VA_OK, by="L2")
    assert r.par is None and r.fault_layer == "L0 S2" and "no PAR is written" in r.outcome


def test_cli_at_nested(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_hostile_cli import cli

    images, (l2, l1, l0) = _files(tmp_path)
    base = ("at", "--nested", *images, "--regs", l2, "--guest-hyp", l1, "--host", l0)
    rc, out, err = cli(*base, "--by", "l1", "S12E1R", hex(VA_OK + 0x10))
    assert rc == 0, err
    assert out.startswith("AT S12E1R 0x400010 by L1: L1's PAR_EL1") and "0x90000000" in out
    rc, out, err = cli(*base, "--json", "S1E1R", hex(VA_L2_FAULT))
    d = json.loads(out)
    assert rc == 0 and d["fault_layer"] == "L2 S1" and d["par_decode"]["F"] == 1


# --------------------------------------------------------------------------- shadow stage 2

SHADOW_PA = 0x4800_0000


def shadow_world():
    """L1 maps L2 IPA 0x2000_0000 (2MB, RW, Normal) -> L1 IPA 0x9000_0000 -> PA 0x6000_0000 (L0: 2MB);
    0x2080_0000 read-only; 0x20C0_0000 (2MB block) -> L1 IPA 0x9100_0000, which L0 maps in two 1MB halves
    to PAs that do not continue each other; 0x2100_0000 -> L1 IPA 0xA000_0000, which L0 does not map."""
    host = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=HOST_TABLES, table_limit=HOST_TABLES + AREA,
                        pa_bits=40)
    l1 = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=L1_TABLES_IPA,
                      table_limit=L1_TABLES_IPA + AREA, pa_bits=40)
    l1.map(0x2000_0000, 0x9000_0000, MB2)
    l1.map(0x2080_0000, 0x9020_0000, MB2, S2Attrs(s2ap=0b01))
    l1.map(0x20C0_0000, 0x9100_0000, MB2)
    l1.map(0x2100_0000, 0xA000_0000, MB2, S2Attrs.device())
    host.map(L1_TABLES_IPA, L1_TABLES_PA, AREA)
    host.map(0x9000_0000, 0x6000_0000, 2 * MB2)
    host.map(0x9100_0000, 0x6100_0000, MB2 // 2)
    host.map(0x9110_0000, 0x6300_0000, MB2 // 2)
    return host, l1


def _shadow(host, mistakes=()):
    sh = TableBuilder(stage=2, granule=4096, ia_bits=40, table_base=SHADOW_PA, table_limit=SHADOW_PA + AREA,
                      pa_bits=40)
    sh.map(0x2000_0000, 0x6000_0000, MB2)
    sh.map(0x2080_0000, 0x6020_0000, MB2, S2Attrs(s2ap=0b01))
    sh.map(0x20C0_0000, 0x6100_0000, MB2 // 2)
    sh.map(0x20D0_0000, 0x6300_0000, MB2 // 2)
    for m in mistakes:
        m(sh)
    return sh


def _mem(host, l1, sh):
    (hb,), (b1,), (bs,) = host.chunks().values(), l1.chunks().values(), sh.chunks().values()
    return PhysicalMemory.from_buffers({HOST_TABLES: hb, L1_TABLES_PA: b1, SHADOW_PA: bs})


def _l2_regs():
    l2 = TableBuilder(stage=1, granule=4096, ia_bits=39, table_base=L2_TABLES_L2IPA)
    return l2.registers()


def test_shadow_view_equals_per_page_composition():
    from pgwalk.nested import shadow_s2

    host, l1 = shadow_world()
    mem = _mem(host, l1, _shadow(host))
    n = nested_setup(_l2_regs(), l1.registers(), host.registers())
    view = shadow_s2(n, mem)
    # brute force: every 4KB page of L2 IPA space that L1 maps, through both stages by hand
    hs = setup_from_registers(host.registers(), Regime.EL10, stage1=False)
    l1s = setup_from_registers({**host.registers(), **l1.registers()}, Regime.EL10, stage1=False)
    mem_l1 = PhysicalMemory.from_buffers({L1_TABLES_IPA: next(iter(l1.chunks().values()))})
    for ipa in range(0x2000_0000, 0x2120_0000, 0x1000):
        a = translate(l1s, mem_l1, ipa, stages="2")
        piece = next((e for e in view if e.ipa <= ipa < e.end), None)
        if not a.ok:
            assert piece is None, hex(ipa)
            continue
        b = translate(hs, mem, a.pa, stages="2")
        assert piece is not None, hex(ipa)
        if not b.ok:
            assert piece.fault_layer == "L0 S2" and piece.fault.type is b.fault.type
            continue
        assert piece.pa + (ipa - piece.ipa) == b.pa, hex(ipa)
        assert piece.perms.w == (a.s2.perms.w and b.s2.perms.w)
    sizes = {e.ipa: (e.size, e.max_block) for e in view if e.mapped}
    assert sizes[0x20C0_0000] == (MB2 // 2, 0x1000) and sizes[0x20D0_0000] == (MB2 // 2, 0x1000)


def test_a_correct_shadow_has_only_missing_ranges():
    from pgwalk.nested import compare_shadow

    host, l1 = shadow_world()
    mem = _mem(host, l1, _shadow(host))
    n = nested_setup(_l2_regs(), l1.registers(), host.registers())
    assert compare_shadow(n, mem, SHADOW_PA) == []
    partial = _shadow(host, [lambda sh: sh.unmap(0x2000_0000, MB2)])
    out = compare_shadow(n, _mem(host, l1, partial), SHADOW_PA)
    assert [(m.kind, m.ipa, m.size) for m in out] == [("missing", 0x2000_0000, MB2)]


@pytest.mark.parametrize("kind,mistake", [
    ("stale", lambda sh: sh.map(0x2100_0000, 0x6800_0000, 0x1000)),          # L0 does not map its L1 IPA
    ("stale", lambda sh: sh.map(0x3000_0000, 0x6800_0000, 0x1000)),          # L1 does not map it
    ("more permissive", lambda sh: (sh.unmap(0x2080_0000, MB2), sh.map(0x2080_0000, 0x6020_0000, MB2))),
    ("wrong attributes", lambda sh: (sh.unmap(0x2000_0000, MB2), sh.map(0x2000_0000, 0x6000_0000, MB2,
                                                                         S2Attrs.device(xn=0)))),
    ("wrong size", lambda sh: (sh.unmap(0x20C0_0000, MB2), sh.map(0x20C0_0000, 0x6100_0000, MB2))),
    ("stale", lambda sh: (sh.unmap(0x2000_0000, 0x1000), sh.map(0x2000_0000, 0x6000_2000, 0x1000))),  # wrong PA
])
def test_planted_shadow_errors_are_diagnosed_exactly(kind, mistake):
    from pgwalk.nested import compare_shadow

    host, l1 = shadow_world()
    mem = _mem(host, l1, _shadow(host, [mistake]))
    n = nested_setup(_l2_regs(), l1.registers(), host.registers())
    out = [m for m in compare_shadow(n, mem, SHADOW_PA) if m.kind != "missing"]
    assert len(out) >= 1 and {m.kind for m in out} == {kind}, [m.text for m in out]


def test_cli_shadow(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_hostile_cli import cli

    host, l1 = shadow_world()
    bad = _shadow(host, [lambda sh: (sh.unmap(0x20C0_0000, MB2), sh.map(0x20C0_0000, 0x6100_0000, MB2))])
    mem = _mem(host, l1, bad)
    images = []
    for k, r in enumerate(mem.regions):
        p = tmp_path / f"part{k}.img"
        p.write_bytes(mem.read(r.base, r.size))
        images += ["-i", f"{p}@{r.base:#x}"]
    files = []
    for name, regs in (("l2", _l2_regs()), ("l1", l1.registers()), ("l0", host.registers())):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({k: hex(v) for k, v in regs.items()}))
        files.append(str(p))
    base = ("dump-tree", *images, "--regs", files[0], "--shadow-s2", "--guest-hyp", files[1], "--host", files[2])
    rc, out, err = cli(*base)
    assert rc == 0, err
    assert "0x000020000000-0x000020200000 -> PA 0x000060000000" in out and "unmapped: L0 S2" in out
    rc, out, err = cli(*base, "--compare-shadow", hex(SHADOW_PA))
    assert rc == 1 and out.splitlines()[0].startswith("wrong size") and "1 mismatch," in out
    rc, out, err = cli(*base, "--compare-shadow", hex(SHADOW_PA), "--json")
    assert rc == 1, err
    recs = [json.loads(x) for x in out.splitlines()]
    assert recs[-1] == {"record": "summary", "schema": 1, "mismatches": 1, "missing": 0}


def test_shipped_nested_sample_is_current_and_says_what_its_docstring_says():
    import importlib.util
    from pathlib import Path

    from pgwalk.nested import at_nested, compare_shadow
    from pgwalk.regs import load_register_file

    here = Path(__file__).resolve().parents[1] / "samples"
    spec = importlib.util.spec_from_file_location("make_nested", here / "make_nested.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0
    mem = PhysicalMemory.from_buffers({0x4000_0000: (here / "nested.img").read_bytes()})
    n = nested_setup(*(load_register_file(here / f"nested_{k}.regs.json") for k in ("l2", "l1", "l0")))
    assert translate_nested(n, mem, 0x40_0010).pa == 0x6000_0010
    assert [translate_nested(n, mem, va).fault_layer for va in (0x80_0000, 0xC0_0000, 0x100_0000)] == \
        ["L1 S2", "L0 S2", "L2 S1"]
    assert at_nested(n, mem, "S12E1W", 0x140_0000, by="L1").fault_layer == "L1 S2"
    assert [m.kind for m in compare_shadow(n, mem, mod.SHADOW_PA)] == ["missing", "more permissive"]


def test_nested_json_validates_against_its_schemas():
    import sys
    from pathlib import Path

    pytest.importorskip("jsonschema")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_hostile_cli import cli
    from test_json_schemas import check_lines

    s = Path(__file__).resolve().parents[1] / "samples"
    n = ("-i", f"{s / 'nested.img'}@0x40000000", "--regs", str(s / "nested_l2.regs.json"),
         "--guest-hyp", str(s / "nested_l1.regs.json"), "--host", str(s / "nested_l0.regs.json"))
    _, out, _ = cli("translate", "--nested", *n, "--json", "--trace", "0x400010", "0x800000", "0xc00000", "0x1000000")
    check_lines("translate-nested", out, count=4)
    _, out, _ = cli("translate", "--nested", *n, "--json", "0x400010")
    check_lines("translate-nested", out, count=1)
    for args in (("--by", "l1", "S12E1W", "0x1400000"), ("S1E1R", "0x400000"), ("S1E1R", "0x1000000")):
        _, out, _ = cli("at", "--nested", *n, "--json", *args)
        check_lines("at-nested", out, count=1)
    _, out, _ = cli("dump-tree", *n, "--shadow-s2", "--json")
    check_lines("shadow-s2", out, count=4)
    _, out, _ = cli("dump-tree", *n, "--shadow-s2", "--json", "--compare-shadow", "0x40030000")
    check_lines("shadow-s2", out, count=3)
