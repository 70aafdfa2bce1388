"""ESR / FAR / HPFAR / PAR decoding, the Linux rendering, pgwalk decode, and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwalk.cli import cli
from pgwalk.errors import InputError
from pgwalk.esr import (EC_TABLE, decode_esr, decode_hpfar, decode_par, decode_register, fsc_disagreement,
                        linux_ec_name, linux_fault_name, linux_mem_abort_lines, linux_style, mair_attr_meaning,
                        parse_u64)
from pgwalk.faults import FSC_TABLE, FaultType
from pgwalk.sysregs import SYSREGS, format_encoding, sysreg_encoding, sysreg_name


def esr_of(ec: int, iss: int = 0, il: int = 1, iss2: int = 0) -> int:
    return (iss2 << 32) | (ec << 26) | (il << 25) | iss


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize("text,value", [
    ("0x96000045", 0x96000045), ("96000045", 0x96000045), ("0X96000045", 0x96000045),
    ("0x0000_0000_9600_0045", 0x96000045), ("0xffffffffffffffff", (1 << 64) - 1),
    (" 0x25 ", 0x25), (0x25, 0x25), ("25", 0x25),
    ("0b101", 0xB101), ("0d100", 0xD100), ("0b102", 0xB102),          # bare values are hex: no binary/decimal prefixes
])
def test_parse_u64_accepts(text, value):
    assert parse_u64(text) == value


@pytest.mark.parametrize("text", ["zz", "", "0x", "-1", "0x1_0000_0000_0000_0000", "12.5", "ESR",
                                  "00000000`96000045", "0o17", "96000045h", "0x96000045UL", "\u0661\u0662"])
def test_parse_u64_rejects(text):
    with pytest.raises(InputError):
        parse_u64(text, "ESR")


# ----------------------------------------------------------------------------- every EC class
# (EC, an ESR of that class, expected words in the summary, fields that must be decoded)
CLASS_EXAMPLES = [
    (0x00, esr_of(0x00), "unknown reason", {}),
    (0x01, esr_of(0x01, 0x1E00001), "WFE", {"TI": 1, "CV": 1, "COND": 0xE}),
    (0x01, esr_of(0x01, 0x1E00066), "WFIT", {"TI": 2, "RV": 1, "RN": 3}),
    (0x03, esr_of(0x03, 0x1E00001), "MRC p15", {"Direction": 1, "Opc1": 0}),
    (0x04, esr_of(0x04, 0x1E00001), "MRRC p15", {"Direction": 1}),
    (0x05, esr_of(0x05, 0x1E00001), "MRC p14", {"Direction": 1}),
    (0x06, esr_of(0x06, 0x1E00001), "LDC", {"Direction": 1, "AM": 0}),
    (0x07, esr_of(0x07, 0x1E00000), "floating-point", {"CV": 1, "COND": 0xE}),
    (0x08, esr_of(0x08, 0x1E00001), "VMRS", {"Direction": 1}),
    (0x09, esr_of(0x09), "pointer authentication", {}),
    (0x0A, esr_of(0x0A, 2), "LD64B or ST64B", {"ISS": 2}),
    (0x0C, esr_of(0x0C, 0x1E00001), "MRRC p14", {"Direction": 1}),
    (0x0D, esr_of(0x0D, 2), "BTYPE = 10", {"BTYPE": 2}),
    (0x0E, esr_of(0x0E), "illegal execution state", {}),
    (0x11, esr_of(0x11, 0x12), "SVC #0x12 from AArch32", {"imm16": 0x12}),
    (0x12, esr_of(0x12, 0x34), "HVC #0x34 from AArch32", {"imm16": 0x34}),
    (0x13, esr_of(0x13, 0x80000), "AArch32 SMC", {"CCKNOWNPASS": 1}),
    (0x14, esr_of(0x14, 0x300801), "MRRS X0, X1, TTBR0_EL1", {"Op0": 3, "CRn": 2, "Rt": 0, "Direction": 1}),
    (0x15, esr_of(0x15, 0x1234), "SVC #0x1234", {"imm16": 0x1234}),
    (0x16, esr_of(0x16, 0), "HVC #0x0", {"imm16": 0}),
    (0x17, esr_of(0x17, 0xCAFE), "SMC #0xcafe", {"imm16": 0xCAFE}),
    (0x18, 0x6230006F, "MRS X3, ID_AA64MMFR0_EL1", {"Op0": 3, "Op1": 0, "CRn": 0, "CRm": 7, "Op2": 0, "Rt": 3,
                                                     "Direction": 1}),
    (0x18, 0x62300820, "MSR TTBR0_EL1, X1", {"Rt": 1, "Direction": 0}),
    (0x18, 0x621023E6, "TLBI VMALLE1IS", {"Op0": 1, "CRn": 8, "CRm": 3}),
    (0x18, 0x6212DC1C, "DC CIVAC, X0", {"Op0": 1, "Op1": 3, "CRn": 7, "CRm": 14, "Op2": 1}),
    (0x19, esr_of(0x19), "SVE", {}),
    (0x1A, esr_of(0x1A, 3), "ERETAB", {"ERET": 1, "ERETA": 1}),
    (0x1C, esr_of(0x1C, 1), "IB key", {"DnI": 0, "BnA": 1}),
    (0x1D, esr_of(0x1D, 1), "PSTATE.SM is 1", {"SMTC": 1}),
    (0x1E, esr_of(0x1E, (0b001101 << 14) | 0x28), "granule protection fault, level 1", {"GPCSC": 0b001101,
                                                                                        "xFSC": 0x28}),
    (0x1F, esr_of(0x1F, 0x123), "IMPLEMENTATION DEFINED", {"IMPLEMENTATIONDEFINED": 0x123}),
    (0x20, esr_of(0x20, 0x07), "level 3 translation fault on an instruction fetch", {"IFSC": 7}),
    (0x21, 0x8600000F, "level 3 permission fault on an instruction fetch", {"IFSC": 0xF}),
    (0x22, esr_of(0x22), "PC alignment", {}),
    (0x24, 0x93C08046, "level 2 translation fault on a write", {"ISV": 1, "SAS": 3, "SF": 1, "WnR": 1,
                                                                 "DFSC": 6}),
    (0x25, 0x96000045, "level 1 translation fault on a write", {"ISV": 0, "WnR": 1, "DFSC": 5}),
    (0x26, esr_of(0x26), "SP alignment", {}),
    (0x27, esr_of(0x27, (1 << 24) | (1 << 18) | (1 << 16) | (2 << 10) | (3 << 5) | 4), "memory set",
     {"MemInst": 1, "FromEpilogue": 1, "FormatOption": 1, "destreg": 2, "srcreg": 3, "sizereg": 4}),
    (0x28, esr_of(0x28, (1 << 23) | 2), "divide by zero", {"TFV": 1, "DZF": 1}),
    (0x2C, esr_of(0x2C, (1 << 23) | 1), "invalid operation", {"TFV": 1, "IOF": 1}),
    (0x2D, esr_of(0x2D, (30 << 5) | 0), "GCS data check", {"ExType": 0, "IT": 0, "Rn": 30}),
    (0x2D, esr_of(0x2D, (2 << 20) | (4 << 10) | (5 << 5)), "GCSSTR", {"ExType": 2, "Raddr": 4, "Rvalue": 5}),
    (0x2F, esr_of(0x2F, (3 << 10) | 0x11), "recoverable state (UER)", {"IDS": 0, "AET": 3, "DFSC": 0x11}),
    (0x2F, 0xBF000002, "IMPLEMENTATION DEFINED syndrome", {"IDS": 1, "IMPDEF": 2}),
    (0x30, esr_of(0x30, 0x22), "breakpoint", {"IFSC": 0x22}),
    (0x31, esr_of(0x31, 0x22), "breakpoint", {"IFSC": 0x22}),
    (0x32, esr_of(0x32, 0x22), "software step", {"ISV": 0, "IFSC": 0x22}),
    (0x33, esr_of(0x33, (1 << 24) | 0x62), "load-exclusive", {"ISV": 1, "EX": 1}),
    (0x34, esr_of(0x34, 0x62), "watchpoint hit on a write", {"WnR": 1, "DFSC": 0x22}),
    (0x35, esr_of(0x35, (5 << 18) | (1 << 17) | 0x22), "watchpoint 5 hit on a read", {"WPT": 5, "WPTV": 1}),
    (0x38, esr_of(0x38, 7, il=0), "BKPT #0x7", {"Comment": 7}),
    (0x3A, esr_of(0x3A, 0x22), "vector catch", {"IFSC": 0x22}),
    (0x3C, 0xF2000800, "BRK #0x800", {"Comment": 0x800}),
    (0x3D, esr_of(0x3D, 2), "profiling buffer management", {"FSC": 1, "SYNC": 0}),
]


@pytest.mark.parametrize("ec,value,words,fields", CLASS_EXAMPLES,
                         ids=[f"ec{e[0]:02x}-{i}" for i, e in enumerate(CLASS_EXAMPLES)])
def test_every_allocated_class(ec, value, words, fields):
    r = decode_esr(value)
    assert r.ec == ec
    assert words.lower() in r.summary.lower()
    assert r.info.allocated
    assert r.fields["EC"] == ec and r.fields["IL"] == (value >> 25) & 1
    assert r.fields["ISS"] == value & 0x1FFFFFF and r.fields["ISS2"] == (value >> 32) & 0xFFFFFF
    for k, v in fields.items():
        assert r.fields[k] == v, k
    assert not any("RES0" in w for w in r.warnings), r.warnings


def test_examples_cover_every_allocated_class():
    covered = {e[0] for e in CLASS_EXAMPLES}
    allocated = {ec for ec, info in EC_TABLE.items() if info.allocated}
    assert allocated == covered
    assert len(allocated) == 48          # the union of the ESR_EL1, ESR_EL2 and ESR_EL3 EC tables


@pytest.mark.parametrize("ec", range(64))
def test_every_ec_value_decodes(ec):
    for el in (None, 1, 2, 3):
        r = decode_esr(esr_of(ec, 0x1FFFFFF if ec != 0x2F else 0), el)
        assert r.ec_name
        assert r.to_json()["ec"] == ec
        if not EC_TABLE[ec].allocated:
            assert "reserved" in r.ec_name.lower()
            assert any("not allocated" in w for w in r.warnings)


def test_ec_per_exception_level():
    assert any("never reported in ESR_EL1" in w for w in decode_esr(esr_of(0x16), 1).warnings)   # HVC64
    assert not decode_esr(esr_of(0x16), 2).warnings
    assert any("never reported in ESR_EL2" in w for w in decode_esr(esr_of(0x1E), 2).warnings)   # GPC
    assert any("never reported in ESR_EL3" in w for w in decode_esr(esr_of(0x30, 0x22), 3).warnings)


def test_res0_bits_flagged():
    r = decode_esr(esr_of(0x15, 0x10000))                     # SVC with ISS[16] set
    assert any("ISS bits 16" in w for w in r.warnings)
    r = decode_esr(esr_of(0x15, 0, iss2=1))
    assert any("ISS2 bits 0" in w for w in r.warnings)
    r = decode_esr(0xFF00000096000045)
    assert any("63:56" in w for w in r.warnings)


# ----------------------------------------------------------------------------- every FSC code
@pytest.mark.parametrize("fsc", range(64))
def test_every_fsc_in_data_and_instruction_aborts(fsc):
    info = FSC_TABLE[fsc]
    d = decode_esr(0x96000000 | fsc, 1)
    assert d.fields["DFSC"] == fsc
    assert d.fault.fsc == fsc and d.fault.type is info.type and d.fault.level == info.level
    js = d.to_json()
    assert js["fault"]["level"] == info.level
    assert js["fault"]["type"] == (info.type.value if info.type else None)
    row = next(x for x in js["details"] if x["name"] == "DFSC")
    assert row["bits"] == "5:0" and row["value"] == fsc
    i = decode_esr(0x86000000 | fsc, 1)
    assert i.fields["IFSC"] == fsc and i.fault.fsc == fsc
    if info.level is not None:
        assert f"level {info.level}" in d.summary
        assert any(n.startswith(f"table level {info.level}") for n in d.notes)
    if info.type is None and not info.allocated:
        assert any("reserved" in w for w in d.warnings)


@pytest.mark.parametrize("fsc,ftype,level", [
    (0x29, FaultType.ADDRESS_SIZE, -1), (0x2B, FaultType.TRANSLATION, -1), (0x13, FaultType.SYNC_EXTERNAL_ON_WALK, -1),
    (0x1B, FaultType.SYNC_PARITY_ON_WALK, -1), (0x23, FaultType.GPCF_ON_WALK, -1),
    (0x2A, FaultType.TRANSLATION, -2), (0x2C, FaultType.ADDRESS_SIZE, -2), (0x12, FaultType.SYNC_EXTERNAL_ON_WALK, -2),
    (0x08, FaultType.ACCESS_FLAG, 0), (0x0C, FaultType.PERMISSION, 0),
])
def test_negative_and_lpa2_levels(fsc, ftype, level):
    r = decode_esr(0x96000000 | fsc)
    assert r.fault.type is ftype and r.fault.level == level
    assert f"level {level}" in r.summary
    assert r.fault.feature                                   # FEAT_LPA2 / FEAT_D128 / FEAT_RME
    assert any(r.fault.feature in n for n in r.notes)


def test_linux_address_size_minus1_mixup_is_flagged():
    # Linux esr.h ADDRSZ_nL(-1) gives 0x25; architecturally 0x25 is a GPF on a walk at level 1 and
    # the level -1 address size fault is 0x29 (fact sheet section 14 #1).
    assert fsc_disagreement(0x25, "level -1 address size fault")
    assert fsc_disagreement(0x29, "level -1 address size fault") is None
    assert "level -1 translation fault" in fsc_disagreement(0x2B, "unknown 43")
    assert fsc_disagreement(0x00, "ttbr address size fault") is None
    assert fsc_disagreement(0x14, "level 0 (translation table walk)") is None
    assert fsc_disagreement(0x3F, "unknown 63") is None


# ----------------------------------------------------------------------------- conditional validity
def _row(r, name):
    return next(d for d in r.details if d.name == name)


def test_isv0_group_not_valid():
    r = decode_esr(0x96000045)
    for n in ("SAS", "SSE", "SRT", "SF", "AR"):
        assert not _row(r, n).valid and n not in r.fields
        assert _row(r, n).meaning.startswith("not valid")
    assert _row(r, "FnP").valid and "FnP" in r.fields
    assert not _row(r, "FnV").valid                        # only for DFSC 0b010000
    assert not _row(r, "SET").valid and _row(r, "LST").valid
    assert not _row(r, "DirtyBit").valid                   # ISS2 permission-fault fields


def test_isv1_group_valid():
    r = decode_esr(0x93C08046, 2)
    assert all(_row(r, n).valid for n in ("SAS", "SSE", "SRT", "SF", "AR"))
    assert _row(r, "SAS").meaning == "doubleword" and _row(r, "SRT").meaning == "register X0"
    assert not _row(r, "FnP").valid and "FnP" not in r.fields


def test_external_abort_fields_and_far_not_valid():
    r = decode_esr(0x96000410 | (3 << 11), 1, far="0xffff000012345678")   # SEA, FnV=1, SET=UEO
    assert _row(r, "FnV").valid and r.fields["FnV"] == 1
    assert _row(r, "SET").valid and _row(r, "SET").meaning.startswith("restartable")
    assert not r.far.valid and "FnV = 1" in r.far.reason
    assert all(not d.valid for d in r.far.details)
    js = r.to_json()
    assert js["far"]["valid"] is False


def test_far_not_valid_for_non_address_classes():
    r = decode_esr(0x56000000, 1, far=0x1000)
    assert not r.far.valid and "UNKNOWN" in r.far.reason
    ok = decode_esr(0x96000045, 1, far=0xffff800008036000)
    assert ok.far.valid and any(n.startswith("walk it: pgwalk translate 0xffff800008036000") for n in ok.notes)
    tagged = decode_esr(0x96000045, 1, far=0x5a00000000001000)
    assert any("untagged" in n for n in tagged.far.notes)


def test_serror_fields_conditional():
    r = decode_esr(esr_of(0x2F, 0))                         # uncategorized
    assert not _row(r, "AET").valid and "uncategorized" in r.summary
    r = decode_esr(esr_of(0x2F, (1 << 7) | (1 << 6) | 0x11))
    assert _row(r, "WnR").valid and _row(r, "WnRV").valid


def test_s1ptw_stage2():
    r = decode_esr(0x92000085, 2, hpfar=0x48050, far=0x123)
    assert r.fault_stage == 2 and "stage 2" in r.summary and "S1PTW" in r.summary
    assert r.hpfar.address == 0x4805123


# ----------------------------------------------------------------------------- HPFAR, PAR, FAR
def test_hpfar_to_ipa():
    h = decode_hpfar(0x0000000000412340, far=0xffff0000deadbabe)
    assert h.address == (0x41234 << 12) | 0xabe
    assert decode_hpfar(1 << 63).details[1].value == 1


@pytest.mark.parametrize("value,summary", [
    (0xFF00000040001980, "AT succeeded: PA 0x40001000"),
    (0x80F, "AT failed: stage 1 level 3 translation fault"),
    (0xA0D, "AT failed: stage 2 level 2 translation fault"),
    (0xB0B, "AT failed: stage 2 level 1 translation fault during the stage 1 walk"),
])
def test_par_both_formats(value, summary):
    p = decode_par(value)
    assert p.summary.startswith(summary)
    if value & 1:
        assert p.derived["format"] == "fault"
    else:
        assert p.derived == {"format": "success", "pa": 0x40001000}
        assert p.fields["SH"] == 3 and p.fields["ATTR"] == 0xFF


@pytest.mark.parametrize("attr,text", [
    (0x00, "Device-nGnRnE"), (0x04, "Device-nGnRE"), (0x0C, "Device-GRE"), (0x44, "Non-cacheable"),
    (0xFF, "Write-Back RA/WA"), (0xF0, "Tagged"), (0xBB, "Write-Through RA/WA"), (0x05, "XS = 0"),
])
def test_mair_attributes(attr, text):
    assert text in mair_attr_meaning(attr)


# ----------------------------------------------------------------------------- Linux rendering
def test_linux_block_6_1_exact():
    assert linux_mem_abort_lines(0x96000006, "6.1") == [
        "Mem abort info:",
        "  ESR = 0x0000000096000006",
        "  EC = 0x25: DABT (current EL), IL = 32 bits",
        "  SET = 0, FnV = 0",
        "  EA = 0, S1PTW = 0",
        "  FSC = 0x06: level 2 translation fault",
        "Data abort info:",
        "  ISV = 0, ISS = 0x00000006",
        "  CM = 0, WnR = 0",
    ]


def test_linux_block_latest_with_iss2():
    assert linux_mem_abort_lines(0x96000005) == [
        "Mem abort info:",
        "  ESR = 0x0000000096000005",
        "  EC = 0x25: DABT (current EL), IL = 32 bits",
        "  SET = 0, FnV = 0",
        "  EA = 0, S1PTW = 0",
        "  FSC = 0x05: level 1 translation fault",
        "Data abort info:",
        "  ISV = 0, ISS = 0x00000005, ISS2 = 0x00000000",
        "  CM = 0, WnR = 0, TnD = 0, TagAccess = 0",
        "  GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0",
    ]


def test_linux_block_isv_and_old_formats():
    assert linux_mem_abort_lines(0x9793002B, "6.6")[-5:] == [
        "  Access size = 4 byte(s)", "  SSE = 0, SRT = 19", "  SF = 0, AR = 0",
        "  CM = 0, WnR = 0, TnD = 0, TagAccess = 0", "  GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0"]
    old = linux_mem_abort_lines(0x96000005, "4.19")
    assert old[1:3] == ["  ESR = 0x96000005", "  Exception class = DABT (current EL), IL = 32 bits"]
    assert not any(line.strip().startswith("FSC") for line in old)
    iabt = linux_mem_abort_lines(0x8600000F, "6.1")
    assert iabt[-1] == "  FSC = 0x0f: level 3 permission fault" and "Data abort info:" not in iabt


def test_linux_names_by_version():
    assert linux_fault_name(0x2B, (6, 6)) == "unknown 43"
    assert linux_fault_name(0x2B) == "level -1 translation fault"
    assert linux_fault_name(0x29) == "level -1 address size fault"
    assert linux_fault_name(0x00) == "ttbr address size fault"
    assert linux_fault_name(0x11, (5, 4)) == "unknown 17"
    assert linux_ec_name(0x27, (6, 1)) == "UNRECOGNIZED EC" and linux_ec_name(0x27) == "MOPS"
    assert linux_ec_name(0x3D) == "UNRECOGNIZED EC"
    assert linux_style("5.15.0-91-generic").esr_digits == 8
    with pytest.raises(InputError):
        linux_style("six")


# ----------------------------------------------------------------------------- pgwalk decode REGISTER
def test_decode_tcr_el1_oracle_value():
    r = decode_register("TCR_EL1", "0x015001f5b5503510")
    reg = r.derived["regions"]
    assert reg["TTBR0"]["granule"] == "4KB" and reg["TTBR1"]["granule"] == "4KB"   # TG0=00, TG1=10
    assert reg["TTBR0"]["va_bits"] == 48 and reg["TTBR0"]["start_level"] == 0
    assert r.derived["pa_bits"] == 48 and r.derived["hw_dirty"] is True
    assert r.fields["T0SZ"] == 16 and r.fields["E0PD1"] == 1


@pytest.mark.parametrize("tg0,tg1,g0,g1", [(0, 2, "4KB", "4KB"), (1, 3, "64KB", "64KB"), (2, 1, "16KB", "16KB")])
def test_tg0_tg1_encodings_differ(tg0, tg1, g0, g1):
    v = (tg1 << 30) | (25 << 16) | (tg0 << 14) | 25
    r = decode_register("TCR_EL1", v)
    assert r.derived["regions"]["TTBR0"]["granule"] == g0
    assert r.derived["regions"]["TTBR1"]["granule"] == g1


@pytest.mark.parametrize("g_tg0,txsz,start", [(0, 16, 0), (0, 25, 1), (0, 12, -1), (1, 16, 1), (1, 22, 2),
                                             (2, 17, 1), (2, 16, 0), (0, 34, 2)])
def test_start_level_formula(g_tg0, txsz, start):
    ds = 1 << 59 if txsz < 16 else 0
    r = decode_register("TCR_EL1", ds | (g_tg0 << 14) | txsz | (2 << 30) | (16 << 16))
    assert r.derived["regions"]["TTBR0"]["start_level"] == start


def test_decode_vtcr_and_others():
    v = decode_register("VTCR_EL2", 0x80023558)            # 4K, T0SZ 24, SL0 1, PS 40-bit
    assert v.derived["start_level"] == 1 and v.derived["concatenated_tables"] == 2
    bad = decode_register("VTCR_EL2", (1 << 31) | (0b11 << 6) | (1 << 14) | 24)  # 64K with SL0=3: reserved
    assert any("reserved" in w for w in bad.warnings)
    m = decode_register("MAIR_EL1", 0x40044ffff)
    assert m.derived["attributes"]["Attr3"] == "Device-nGnRnE"
    assert decode_register("ID_AA64MMFR0_EL1", 0x32310201126).derived["pa_bits"] == 52
    assert decode_register("SCTLR_EL1", 0x2000018fc74791d).derived["mmu"] is True
    assert decode_register("TTBR1_EL1", 0xc2000041858001).derived["baddr"] == 0x41858000
    assert decode_register("HCR_EL2", 1 << 34 | 1).derived == {"stage2": True, "e2h": True, "tge": False}
    assert decode_register("esr_el2", 0x93C08046).el == 2
    e2h = decode_register("TCR_EL2", 0x015001f5b5503510, e2h=True)
    assert "TTBR1" in e2h.derived["regions"]
    with pytest.raises(InputError):
        decode_register("NOPE_EL1", 1)


# ----------------------------------------------------------------------------- system registers
def test_sysreg_table():
    assert len(SYSREGS) >= 300
    assert sysreg_name(3, 0, 2, 0, 0) == "TTBR0_EL1"
    assert sysreg_name(3, 4, 2, 1, 2) == "VTCR_EL2"
    assert sysreg_name(3, 0, 12, 12, 0) == "ICC_IAR1_EL1"
    assert sysreg_name(3, 3, 14, 3, 1) == "CNTV_CTL_EL0"
    assert sysreg_name(2, 0, 0, 5, 4) == "DBGBVR5_EL1"
    assert sysreg_name(3, 3, 14, 9, 2) == "PMEVCNTR10_EL0"
    assert sysreg_name(3, 4, 12, 13, 1) == "ICH_LR9_EL2"
    assert sysreg_name(2, 3, 0, 5, 0, True) == "DBGDTRRX_EL0"
    assert sysreg_name(2, 3, 0, 5, 0, False) == "DBGDTRTX_EL0"
    assert sysreg_name(1, 0, 9, 3, 0) == "TLBI VMALLE1ISNXS"
    assert sysreg_name(3, 0, 11, 0, 0).endswith("(IMPLEMENTATION DEFINED)")
    assert sysreg_encoding("mair_el1") == (3, 0, 10, 2, 0)
    assert format_encoding(3, 0, 2, 0, 0) == "S3_0_C2_C0_0"
    for key in ((3, 0, 1, 0, 0), (3, 4, 1, 1, 0), (3, 6, 1, 1, 0), (3, 0, 5, 2, 0), (3, 0, 6, 0, 0),
                (3, 0, 7, 4, 0), (3, 0, 0, 7, 0), (3, 3, 9, 12, 0), (3, 0, 12, 0, 0)):
        assert sysreg_name(*key)
    names = [n for n in SYSREGS.values() if isinstance(n, str)]
    assert len(names) == len(set(names))


def test_unknown_sysreg_encoding():
    esr = esr_of(0x18, (3 << 20) | (7 << 17) | (7 << 14) | (15 << 10) | (15 << 1))   # S3_7_C15_C15_7
    r = decode_esr(esr)
    assert "S3_7_C15_C15_7" in r.summary


# ----------------------------------------------------------------------------- property checks
@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=(1 << 64) - 1), st.sampled_from([None, 1, 2, 3]))
def test_any_value_decodes_consistently(value, el):
    r = decode_esr(value, el, far=value ^ 0x5555, hpfar=value >> 3, par=value)
    js = r.to_json()
    json.dumps(js)
    assert js["fields"]["EC"] == (value >> 26) & 0x3F
    for d in r.details:
        if d.name == "register":
            continue
        assert d.value == (value >> d.lsb) & ((1 << d.width) - 1), d.name
    for name, v in r.fields.items():
        assert isinstance(v, int)
    lines = linux_mem_abort_lines(value)
    assert lines[0] == "Mem abort info:"


# ----------------------------------------------------------------------------- CLI
def test_cli_json_schema():
    res = run("decode-esr", "0x96000045", "--el", "1", "--json")
    assert res.exit_code == 0
    d = json.loads(res.stdout)
    assert {"fields", "ec_name", "summary", "details", "ec", "register", "fault", "far", "notes"} <= set(d)
    assert d["register"] == "ESR_EL1"
    assert d["summary"] == "level 1 translation fault on a write at EL1"
    for k in ("EC", "IL", "ISS", "ISS2", "DFSC", "WnR", "CM", "S1PTW", "EA", "FnV", "SET", "ISV", "VNCR"):
        assert k in d["fields"]
    assert d["fields"]["DFSC"] == 5 and d["fields"]["WnR"] == 1
    det = {x["name"]: x for x in d["details"]}
    assert det["SAS"]["valid"] is False and det["DFSC"]["bits"] == "5:0"
    assert set(det["EC"]) == {"name", "bits", "msb", "lsb", "value", "hex", "meaning", "valid", "note", "group"}


def test_cli_rich_output():
    res = run("decode-esr", "0x96000045", "--el", "1", "--far", "0xffff800008036000")
    assert res.exit_code == 0
    assert "level 1 translation fault on a write at EL1" in res.stdout
    assert "DFSC" in res.stdout and "pgwalk translate" in res.stderr and "note:" not in res.stdout


def test_cli_linux():
    res = run("decode-esr", "96000006", "--linux", "--kernel", "6.1")
    assert res.stdout.splitlines() == linux_mem_abort_lines(0x96000006, "6.1")
    res = run("decode-esr", "0x96000025", "--linux")
    assert "granule protection fault" in res.stderr                # kernel name vs architecture
    assert res.stdout.splitlines()[5] == "  FSC = 0x25: unknown 37"


@pytest.mark.parametrize("args", [["decode-esr", "zz"], ["decode-esr", "0x1ffffffffffffffff"],
                                  ["decode-esr"], ["decode-esr", "1", "--el", "1", "--far", "xyz"],
                                  ["decode", "TCR_EL1", "nothex"], ["decode", "WHAT", "1"],
                                  ["decode-esr", "1", "--image", "x.img"]])
def test_cli_bad_input(args):
    res = run(*args)
    assert res.exit_code == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in res.stderr


def test_cli_decode_register():
    res = run("decode", "TCR_EL1", "0x015001f5b5503510", "--json")
    d = json.loads(res.stdout)
    assert d["derived"]["regions"]["TTBR1"]["granule"] == "4KB"
    res = run("decode", "PAR_EL1", "0x80F")
    assert "level 3 translation fault" in res.stdout
    res = run("decode", "ESR_EL2", "0x93C08046")
    assert "ESR_EL2" in res.stdout
