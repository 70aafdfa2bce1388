"""System-register field layouts (Arm ARM DDI 0487 M.a.a, chapter D24).

Field names are the Arm ARM's.  Only layouts; what the fields mean for a walk
is decided in :mod:`pgwalk.params`.
"""

from __future__ import annotations

from .fields import Field, Layout, fields

__all__ = [
    "TCR_EL1", "TCR_EL2_E2H0", "TCR_EL3", "VTCR_EL2", "TTBR", "TTBR_52", "TTBR_128", "TTBR_EL3_128", "VTTBR_EL2",
    "SCTLR", "HCR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "ID_AA64ISAR1_EL1",
    "MAIR", "PAR_EL1_OK", "PAR_EL1_FAULT", "HPFAR_EL2", "PSTATE", "REGISTER_LAYOUTS",
    "TCR2_EL1", "TCR2_EL2", "PIR", "S2PIR", "POR", "S2POR", "ID_AA64MMFR3_EL1", "ID_AA64PFR1_EL1",
    "SCR_EL3", "HCRX_EL2", "PIR_PERMS", "S2PIR_PERMS", "POR_PERMS",
    "PS_BITS", "TG0_GRANULE", "TG1_GRANULE",
]

#: {I}PS / PS / PARange encodings -> bits (ARM Table D8-5)
PS_BITS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52, 7: 56}

_PS_VALUES = {k: f"{v} bits" for k, v in PS_BITS.items()}
_CACHE = {0: "Non-cacheable", 1: "Write-Back RA WA", 2: "Write-Through RA", 3: "Write-Back RA"}
_SH = {0: "Non-shareable", 1: "reserved", 2: "Outer Shareable", 3: "Inner Shareable"}

#: TCR_ELx.TG0 and VTCR_EL2.TG0 -> granule shift (ASL AArch64.S1DecodeTG0 / S2DecodeTG0)
TG0_GRANULE = {0b00: 12, 0b01: 16, 0b10: 14}
#: TCR_ELx.TG1 -> granule shift (ASL AArch64.S1DecodeTG1): note the different encoding
TG1_GRANULE = {0b10: 12, 0b11: 16, 0b01: 14}

_TG0 = {0: "4KB", 1: "64KB", 2: "16KB", 3: "reserved"}
_TG1 = {0: "reserved", 1: "16KB", 2: "4KB", 3: "64KB"}

# TCR_EL1, and TCR_EL2 when HCR_EL2.E2H == 1 (ARM D24.2.194)
TCR_EL1 = Layout("TCR_EL1", fields([
    ("T0SZ", 5, 0, "size offset of the TTBR0 region: 64 - T0SZ VA bits"),
    ("EPD0", 7, 7, "1: TTBR0 walks disabled"),
    ("IRGN0", 9, 8, "inner cacheability of TTBR0 walks", _CACHE),
    ("ORGN0", 11, 10, "outer cacheability of TTBR0 walks", _CACHE),
    ("SH0", 13, 12, "shareability of TTBR0 walks", _SH),
    ("TG0", 15, 14, "TTBR0 granule", _TG0),
    ("T1SZ", 21, 16, "size offset of the TTBR1 region: 64 - T1SZ VA bits"),
    ("A1", 22, 22, "ASID from TTBR1 (1) or TTBR0 (0)"),
    ("EPD1", 23, 23, "1: TTBR1 walks disabled"),
    ("IRGN1", 25, 24, "inner cacheability of TTBR1 walks", _CACHE),
    ("ORGN1", 27, 26, "outer cacheability of TTBR1 walks", _CACHE),
    ("SH1", 29, 28, "shareability of TTBR1 walks", _SH),
    ("TG1", 31, 30, "TTBR1 granule", _TG1),
    ("IPS", 34, 32, "intermediate physical address size", _PS_VALUES),
    ("AS", 36, 36, "ASID size: 0 8-bit, 1 16-bit"),
    ("TBI0", 37, 37, "top byte ignored, TTBR0 region"),
    ("TBI1", 38, 38, "top byte ignored, TTBR1 region"),
    ("HA", 39, 39, "hardware Access flag update"),
    ("HD", 40, 40, "hardware dirty state update"),
    ("HPD0", 41, 41, "hierarchical permissions disabled, TTBR0"),
    ("HPD1", 42, 42, "hierarchical permissions disabled, TTBR1"),
    ("HWU059", 43, 43), ("HWU060", 44, 44), ("HWU061", 45, 45), ("HWU062", 46, 46),
    ("HWU159", 47, 47), ("HWU160", 48, 48), ("HWU161", 49, 49), ("HWU162", 50, 50),
    ("TBID0", 51, 51, "TBI0 for data accesses only"),
    ("TBID1", 52, 52, "TBI1 for data accesses only"),
    ("NFD0", 53, 53, "non-fault accesses at EL0 disabled, TTBR0"),
    ("NFD1", 54, 54, "non-fault accesses at EL0 disabled, TTBR1"),
    ("E0PD0", 55, 55, "EL0 accesses to the TTBR0 region fault"),
    ("E0PD1", 56, 56, "EL0 accesses to the TTBR1 region fault"),
    ("TCMA0", 57, 57), ("TCMA1", 58, 58),
    ("DS", 59, 59, "52-bit IA/OA with 4KB/16KB granules (FEAT_LPA2)"),
    ("MTX0", 60, 60), ("MTX1", 61, 61),
]))

# TCR_EL2 when HCR_EL2.E2H == 0 (ARM D24.2.195) and TCR_EL3 (ARM D24.2.196): the fields
# pgwalk reads sit at the same positions in both
_TCR_ONE_RANGE = [
    ("T0SZ", 5, 0, "size offset: 64 - T0SZ VA bits"),
    ("IRGN0", 9, 8, "inner cacheability of walks", _CACHE),
    ("ORGN0", 11, 10, "outer cacheability of walks", _CACHE),
    ("SH0", 13, 12, "shareability of walks", _SH),
    ("TG0", 15, 14, "granule", _TG0),
    ("PS", 18, 16, "physical address size", _PS_VALUES),
    ("TBI", 20, 20, "top byte ignored"),
    ("HA", 21, 21, "hardware Access flag update"),
    ("HD", 22, 22, "hardware dirty state update"),
    ("RES1_23", 23, 23),
    ("HPD", 24, 24, "hierarchical permissions disabled"),
    ("HWU59", 25, 25), ("HWU60", 26, 26), ("HWU61", 27, 27), ("HWU62", 28, 28),
    ("TBID", 29, 29, "TBI for data accesses only"),
    ("TCMA", 30, 30),
    ("RES1_31", 31, 31),
    ("DS", 32, 32, "52-bit IA/OA with 4KB/16KB granules (FEAT_LPA2)"),
    ("MTX", 33, 33),
]
TCR_EL2_E2H0 = Layout("TCR_EL2", fields(_TCR_ONE_RANGE))
# TCR_EL3 holds the FEAT_TCR2-era enables itself (there is no TCR2_EL3; ARM D24.2.196)
TCR_EL3 = Layout("TCR_EL3", fields(_TCR_ONE_RANGE + [
    ("PnCH", 34, 34, "protected attribute enable: descriptor bit 52 is Protected (FEAT_THE)"),
    ("PIE", 35, 35, "permission indirection: PIIndex selects a PIR_EL3 entry (FEAT_S1PIE)"),
    ("POE", 36, 36, "permission overlays, POR_EL3 (FEAT_S1POE)"),
    ("AIE", 37, 37, "attribute index extension: AttrIndx[3] selects MAIR2_EL3 (FEAT_AIE)"),
    ("D128", 38, 38, "128-bit translation table descriptors, VMSAv9-128 (FEAT_D128)"),
    ("PTTWI", 41, 41, "permit translation table walk incoherence (FEAT_THE)"),
    ("HAFT", 42, 42, "hardware Access flag on table descriptors (FEAT_HAFT)"),
    ("DisCH0", 43, 43, "D128: Contiguous bit of start-table leaves treated as 0"),
]))

# VTCR_EL2 (ARM D24.2.224)
VTCR_EL2 = Layout("VTCR_EL2", fields([
    ("T0SZ", 5, 0, "size offset: 64 - T0SZ IPA bits"),
    ("SL0", 7, 6, "starting level (with SL2)"),
    ("IRGN0", 9, 8, "inner cacheability of walks", _CACHE),
    ("ORGN0", 11, 10, "outer cacheability of walks", _CACHE),
    ("SH0", 13, 12, "shareability of walks", _SH),
    ("TG0", 15, 14, "granule", _TG0),
    ("PS", 18, 16, "physical address size", _PS_VALUES),
    ("VS", 19, 19, "16-bit VMID"),
    ("HA", 21, 21, "hardware Access flag update"),
    ("HD", 22, 22, "hardware dirty state update"),
    ("HWU59", 25, 25), ("HWU60", 26, 26), ("HWU61", 27, 27), ("HWU62", 28, 28),
    ("NSW", 29, 29), ("NSA", 30, 30),
    ("RES1_31", 31, 31),
    ("DS", 32, 32, "52-bit IPA/OA with 4KB/16KB granules (FEAT_LPA2)"),
    ("SL2", 33, 33, "start level -1 with SL0 = 0 (4KB, DS = 1)"),
    ("AssuredOnly", 34, 34), ("TL1", 35, 35), ("S2PIE", 36, 36), ("S2POE", 37, 37),
    ("D128", 38, 38), ("GCSH", 40, 40), ("TL0", 41, 41), ("HAFT", 44, 44), ("HDBSS", 45, 45),
]))

# TTBRn_ELx, 48-bit BADDR form (ARM D24.2.209)
TTBR = Layout("TTBR", fields([
    ("CnP", 0, 0, "common not private"),
    ("BADDR", 47, 1, "translation table base address"),
    ("ASID", 63, 48, "address space identifier"),
]))

# TTBRn_ELx, 52-bit BADDR form: BADDR[51:48] in bits [5:2]
TTBR_52 = Layout("TTBR", fields([
    ("CnP", 0, 0, "common not private"),
    ("BADDR_51_48", 5, 2, "translation table base address bits [51:48]"),
    ("BADDR", 47, 6, "translation table base address bits [47:6]"),
    ("ASID", 63, 48, "address space identifier"),
]))

# TTBRn_ELx / VTTBR_EL2 as 128-bit registers with FEAT_D128 (VMSAv9-128): BADDR[55:48] in bits
# [87:80], BADDR[47:5] in bits [47:5], the start-level skip SKL in bits [2:1] (ARM D24.2.209ff;
# ASL AArch64.S1TTBaseAddress / S2TTBaseAddress, S1TTWParams*.skl).  TTBRn_EL3 has BADDR[55:5] in place.
TTBR_128 = Layout("TTBR (128-bit)", fields([
    ("CnP", 0, 0, "common not private"),
    ("SKL", 2, 1, "levels skipped at the start of a walk (VMSAv9-128)"),
    ("BADDR", 47, 5, "translation table base address bits [47:5]"),
    ("ASID", 63, 48, "address space identifier (VMID in VTTBR_EL2)"),
    ("BADDR_55_48", 87, 80, "translation table base address bits [55:48]"),
]), width=128)
TTBR_EL3_128 = Layout("TTBR0_EL3 (128-bit)", fields([
    ("CnP", 0, 0, "common not private"),
    ("SKL", 2, 1, "levels skipped at the start of a walk (VMSAv9-128)"),
    ("BADDR", 55, 5, "translation table base address bits [55:5]"),
]), width=128)

VTTBR_EL2 = Layout("VTTBR_EL2", fields([
    ("CnP", 0, 0, "common not private"),
    ("BADDR", 47, 1, "stage 2 translation table base address"),
    ("VMID", 63, 48, "virtual machine identifier"),
]))

# SCTLR_ELx (ARM D24.2.172; the EL1 layout, whose fields pgwalk reads at every EL)
SCTLR = Layout("SCTLR", fields([
    ("M", 0, 0, "stage 1 MMU enable"), ("A", 1, 1, "alignment check enable"),
    ("C", 2, 2, "data access cacheability"), ("SA", 3, 3, "SP alignment check"),
    ("SA0", 4, 4, "EL0 SP alignment check"), ("CP15BEN", 5, 5, "AArch32 CP15 barrier enable"),
    ("nAA", 6, 6, "non-aligned access (FEAT_LSE2)"), ("ITD", 7, 7, "AArch32 IT disable"),
    ("SED", 8, 8, "AArch32 SETEND disable"), ("UMA", 9, 9, "EL0 DAIF access"),
    ("EnRCTX", 10, 10, "EL0 restriction-by-context instructions"), ("EOS", 11, 11, "exception exit is context synchronizing"),
    ("I", 12, 12, "instruction access cacheability"), ("EnDB", 13, 13, "pointer authentication, APDBKey"),
    ("DZE", 14, 14, "EL0 DC ZVA"), ("UCT", 15, 15, "EL0 CTR_EL0 access"),
    ("nTWI", 16, 16, "do not trap EL0 WFI"), ("nTWE", 18, 18, "do not trap EL0 WFE"),
    ("WXN", 19, 19, "write permission implies XN"), ("TSCXT", 20, 20, "trap EL0 SCXTNUM_EL0"),
    ("IESB", 21, 21, "implicit error synchronization event"), ("EIS", 22, 22, "exception entry is context synchronizing"),
    ("SPAN", 23, 23, "set PAN on exception to EL1 (0 = set)"), ("E0E", 24, 24, "EL0 data endianness"),
    ("EE", 25, 25, "EL1 data and table-walk endianness"), ("UCI", 26, 26, "EL0 cache maintenance"),
    ("EnDA", 27, 27, "pointer authentication, APDAKey"), ("nTLSMD", 28, 28, "no trap load/store multiple to Device"),
    ("LSMAOE", 29, 29, "load/store multiple atomicity and ordering"), ("EnIB", 30, 30, "pointer authentication, APIBKey"),
    ("EnIA", 31, 31, "pointer authentication, APIAKey"), ("CMOW", 32, 32, "cache maintenance needs write permission"),
    ("MSCEn", 33, 33, "memory copy/set at EL0 (FEAT_MOPS)"), ("EnFPM", 34, 34, "FPMR access (FEAT_FPMR)"),
    ("BT0", 35, 35, "PAC branch type compatibility, EL0"), ("BT1", 36, 36, "PAC branch type compatibility, EL1"),
    ("ITFSB", 37, 37, "tag check faults synchronized on entry"),
    ("TCF0", 39, 38, "EL0 tag check fault mode", {0: "none", 1: "synchronous", 2: "asynchronous", 3: "asymmetric"}),
    ("TCF", 41, 40, "EL1 tag check fault mode", {0: "none", 1: "synchronous", 2: "asynchronous", 3: "asymmetric"}),
    ("ATA0", 42, 42, "EL0 allocation tag access"), ("ATA", 43, 43, "EL1 allocation tag access"),
    ("DSSBS", 44, 44, "default PSTATE.SSBS on exception"), ("TWEDEn", 45, 45, "TWE delay enable"),
    ("TWEDEL", 49, 46, "TWE delay"), ("TMT0", 50, 50), ("TMT", 51, 51), ("TME0", 52, 52), ("TME", 53, 53),
    ("EnASR", 54, 54, "EL0 ST64BV"), ("EnAS0", 55, 55, "EL0 ST64BV0"), ("EnALS", 56, 56, "EL0 LD64B/ST64B"),
    ("EPAN", 57, 57, "enhanced PAN"), ("TCSO0", 58, 58), ("TCSO", 59, 59),
    ("EnTP2", 60, 60, "EL0 TPIDR2_EL0 access"), ("NMI", 61, 61, "non-maskable interrupts"),
    ("SPINTMASK", 62, 62, "PSTATE.ALLINT on exception"), ("TIDCP", 63, 63, "trap EL0 IMPDEF system registers"),
]))

# HCR_EL2 bits pgwalk uses (ARM D24.2.71)
HCR_EL2 = Layout("HCR_EL2", fields([
    ("VM", 0, 0, "stage 2 enable"),
    ("SWIO", 1, 1),
    ("PTW", 2, 2, "stage 1 walks to stage 2 Device memory fault"),
    ("DC", 12, 12, "default cacheability: stage 1 off, Normal WB"),
    ("TVM", 26, 26), ("TGE", 27, 27, "trap general exceptions"), ("TRVM", 30, 30),
    ("RW", 31, 31, "EL1 is AArch64"),
    ("CD", 32, 32, "stage 2 data accesses Non-cacheable"),
    ("ID", 33, 33, "stage 2 instruction accesses Non-cacheable"),
    ("E2H", 34, 34, "EL2 host (VHE)"),
    ("NV", 42, 42), ("NV1", 43, 43), ("AT", 44, 44),
    ("FWB", 46, 46, "stage 2 forced write-back"),
    ("GPF", 48, 48),
]))

ID_AA64MMFR0_EL1 = Layout("ID_AA64MMFR0_EL1", fields([
    ("PARange", 3, 0, "physical address range", _PS_VALUES),
    ("ASIDBits", 7, 4),
    ("BigEnd", 11, 8), ("SNSMem", 15, 12), ("BigEndEL0", 19, 16),
    ("TGran16", 23, 20, "16KB granule at stage 1", {0: "not supported", 1: "supported", 2: "supported, 52-bit"}),
    ("TGran64", 27, 24, "64KB granule at stage 1", {0: "supported", 15: "not supported"}),
    ("TGran4", 31, 28, "4KB granule at stage 1", {0: "supported", 1: "supported, 52-bit", 15: "not supported"}),
    ("TGran16_2", 35, 32), ("TGran64_2", 39, 36), ("TGran4_2", 43, 40),
    ("ExS", 47, 44), ("FGT", 59, 56), ("ECV", 63, 60),
]))

ID_AA64MMFR1_EL1 = Layout("ID_AA64MMFR1_EL1", fields([
    ("HAFDBS", 3, 0, "hardware AF/dirty updates"),
    ("VMIDBits", 7, 4), ("VH", 11, 8),
    ("HPDS", 15, 12, "hierarchical permission disables"),
    ("LO", 19, 16), ("PAN", 23, 20, "privileged access never"),
    ("SpecSEI", 27, 24), ("XNX", 31, 28, "stage 2 EL0/EL1 execute-never split"),
    ("TWED", 35, 32), ("ETS", 39, 36), ("HCX", 43, 40), ("AFP", 47, 44),
    ("nTLBPA", 51, 48), ("TIDCP1", 55, 52), ("CMOW", 59, 56), ("ECBHB", 63, 60),
]))

ID_AA64MMFR2_EL1 = Layout("ID_AA64MMFR2_EL1", fields([
    ("CnP", 3, 0), ("UAO", 7, 4), ("LSM", 11, 8), ("IESB", 15, 12),
    ("VARange", 19, 16, "virtual address range",
     {0: "48 bits", 1: "52 bits with 64KB", 2: "56 bits with D128 (FEAT_LVA3)"}),
    ("CCIDX", 23, 20), ("NV", 27, 24),
    ("ST", 31, 28, "small translation tables (FEAT_TTST)"),
    ("AT", 35, 32), ("IDS", 39, 36), ("FWB", 43, 40), ("TTL", 51, 48),
    ("BBM", 55, 52), ("EVT", 59, 56), ("E0PD", 63, 60),
]))

ID_AA64ISAR1_EL1 = Layout("ID_AA64ISAR1_EL1", fields([
    ("DPB", 3, 0), ("APA", 7, 4), ("API", 11, 8), ("JSCVT", 15, 12), ("FCMA", 19, 16),
    ("LRCPC", 23, 20), ("GPA", 27, 24), ("GPI", 31, 28), ("FRINTTS", 35, 32), ("SB", 39, 36),
    ("SPECRES", 43, 40), ("BF16", 47, 44), ("DGH", 51, 48), ("I8MM", 55, 52),
    ("XS", 59, 56, "FEAT_XS: the XS attribute"), ("LS64", 63, 60),
]))

# TCR2_EL1 (ARM D24.2.190), and TCR2_EL2 (D24.2.191) whose E2H = 1 layout adds AMEC0/1 and keeps
# E0POE/D128/DisCHn/FNGn/A2 (with E2H = 0 those bits are RES0)
_TCR2_COMMON = [
    ("PnCH", 0, 0, "protected attribute enable: descriptor bit 52 is Protected (FEAT_THE)"),
    ("PIE", 1, 1, "stage 1 permission indirection: PIIndex selects a PIR/PIRE0 entry (FEAT_S1PIE)"),
    ("E0POE", 2, 2, "EL0 permission overlays, POR_EL0 (FEAT_S1POE)"),
    ("POE", 3, 3, "privileged permission overlays, POR_EL1/POR_EL2 (FEAT_S1POE)"),
    ("AIE", 4, 4, "attribute index extension: AttrIndx[3] selects MAIR2 (FEAT_AIE)"),
    ("D128", 5, 5, "128-bit translation table descriptors, VMSAv9-128 (FEAT_D128)"),
    ("PTTWI", 10, 10, "permit translation table walk incoherence (FEAT_THE)"),
    ("HAFT", 11, 11, "hardware Access flag on table descriptors (FEAT_HAFT)"),
]
_TCR2_TAIL = [
    ("DisCH0", 14, 14, "D128: Contiguous bit of TTBR0 start-table leaves treated as 0"),
    ("DisCH1", 15, 15, "D128: Contiguous bit of TTBR1 start-table leaves treated as 0"),
    ("A2", 16, 16, "two ASIDs (FEAT_ASID2)"),
    ("FNG0", 17, 17, "TTBR0 translations non-global (FEAT_ASID2)"),
    ("FNG1", 18, 18, "TTBR1 translations non-global (FEAT_ASID2)"),
    ("FNGNA0", 20, 20, "TTBR0 non-global unless Assured (FEAT_THE)"),
    ("FNGNA1", 21, 21, "TTBR1 non-global unless Assured (FEAT_THE)"),
]
TCR2_EL1 = Layout("TCR2_EL1", fields(_TCR2_COMMON + _TCR2_TAIL))
TCR2_EL2 = Layout("TCR2_EL2", fields(_TCR2_COMMON + [
    ("AMEC0", 12, 12, "alternate MECID, TTBR0_EL2 (FEAT_MEC)"),
    ("AMEC1", 13, 13, "alternate MECID, TTBR1_EL2 (FEAT_MEC, E2H = 1)"),
] + _TCR2_TAIL))

#: PIR_ELx / PIRE0_ELx Perm<m> encodings (ASL AArch64.S1IndirectBasePermissions; "_O": overlay applies)
PIR_PERMS = {
    0b0000: "no access (overlay)", 0b0001: "R (overlay)", 0b0010: "X (overlay)", 0b0011: "RX (overlay)",
    0b0100: "reserved: no access", 0b0101: "RW (overlay)", 0b0110: "RWX with WXN (overlay)", 0b0111: "RWX (overlay)",
    0b1000: "R", 0b1001: "R and GCS", 0b1010: "RX", 0b1011: "reserved: no access",
    0b1100: "RW", 0b1101: "reserved: no access", 0b1110: "RWX", 0b1111: "reserved: no access",
}
#: S2PIR_EL2 / S2POR_EL1 Perm<m> encodings (ASL AArch64.S2IndirectBasePermissions, S2OverlayPermissions)
S2PIR_PERMS = {
    0b0000: "no access", 0b0001: "reserved: no access", 0b0010: "MRO", 0b0011: "MRO-TL1",
    0b0100: "WO", 0b0101: "reserved: no access", 0b0110: "MRO-TL0", 0b0111: "MRO-TL01",
    0b1000: "RO", 0b1001: "RO+uX", 0b1010: "RO+pX", 0b1011: "RO+puX",
    0b1100: "RW", 0b1101: "RW+uX", 0b1110: "RW+pX", 0b1111: "RW+puX",
}
#: POR_ELx Perm<m> encodings (ASL AArch64.S1OverlayPermissions): bit 0 R, bit 1 X, bit 2 W; 0b1xxx reserved
POR_PERMS = {v: ("reserved: no access" if v & 0b1000 else
                 ("".join(c for c, b in (("R", 1), ("W", 4), ("X", 2)) if v & b) or "no access"))
             for v in range(16)}

# PIR_EL1/EL2/EL3, PIRE0_EL1/EL2 (ARM D24.2.145-149), S2PIR_EL2 (D24.2.166): sixteen 4-bit Perm<m>
PIR = Layout("PIR", fields([(f"Perm{n}", 4 * n + 3, 4 * n, f"permissions of PIIndex {n}", PIR_PERMS)
                            for n in range(16)]))
S2PIR = Layout("S2PIR_EL2", fields([(f"Perm{n}", 4 * n + 3, 4 * n, f"permissions of stage 2 PIIndex {n}", S2PIR_PERMS)
                                    for n in range(16)]))
# POR_EL0/EL1/EL2/EL3 (ARM D24.2.150-153): sixteen 4-bit Perm<m> (stage 1 POIndex is 3 bits: Perm0..7 used)
POR = Layout("POR", fields([(f"Perm{n}", 4 * n + 3, 4 * n, f"overlay permissions of POIndex {n}", POR_PERMS)
                            for n in range(16)]))
# S2POR_EL1 (ARM D24.2.167): sixteen 4-bit Perm<m>, S2PIR's encodings
S2POR = Layout("S2POR_EL1", fields([(f"Perm{n}", 4 * n + 3, 4 * n, f"stage 2 overlay permissions of S2POIndex {n}",
                                     S2PIR_PERMS) for n in range(16)]))

_FEAT = {0: "not implemented", 1: "implemented"}
ID_AA64MMFR3_EL1 = Layout("ID_AA64MMFR3_EL1", fields([
    ("TCRX", 3, 0, "FEAT_TCR2: TCR2_ELx", _FEAT),
    ("SCTLRX", 7, 4, "FEAT_SCTLR2: SCTLR2_ELx", _FEAT),
    ("S1PIE", 11, 8, "FEAT_S1PIE: stage 1 permission indirection", _FEAT),
    ("S2PIE", 15, 12, "FEAT_S2PIE: stage 2 permission indirection", _FEAT),
    ("S1POE", 19, 16, "FEAT_S1POE: stage 1 permission overlays", _FEAT),
    ("S2POE", 23, 20, "FEAT_S2POE: stage 2 permission overlays", _FEAT),
    ("AIE", 27, 24, "FEAT_AIE: MAIR2_ELx, AttrIndx[3]", _FEAT),
    ("MEC", 31, 28, "FEAT_MEC", _FEAT),
    ("D128", 35, 32, "FEAT_D128: VMSAv9-128", _FEAT),
    ("D128_2", 39, 36, "FEAT_D128 at stage 2", _FEAT),
    ("SNERR", 43, 40), ("ANERR", 47, 44), ("SDERR", 55, 52), ("ADERR", 59, 56),
    ("Spec_FPACC", 63, 60),
]))

ID_AA64PFR1_EL1 = Layout("ID_AA64PFR1_EL1", fields([
    ("BT", 3, 0, "FEAT_BTI"), ("SSBS", 7, 4), ("MTE", 11, 8), ("RAS_frac", 15, 12), ("MPAM_frac", 19, 16),
    ("SME", 27, 24), ("RNDR_trap", 31, 28), ("CSV2_frac", 35, 32), ("NMI", 39, 36), ("MTE_frac", 43, 40),
    ("GCS", 47, 44, "FEAT_GCS: guarded control stacks", _FEAT), ("THE", 51, 48, "FEAT_THE"),
    ("MTEX", 55, 52), ("DF2", 59, 56), ("PFAR", 63, 60),
]))

# SCR_EL3: the enables the translation ASL reads (ARM D24.2.169)
SCR_EL3 = Layout("SCR_EL3", fields([
    ("NS", 0, 0, "Non-secure"), ("IRQ", 1, 1), ("FIQ", 2, 2), ("EA", 3, 3),
    ("SMD", 7, 7), ("HCE", 8, 8, "HVC enable"), ("SIF", 9, 9, "secure instruction fetch from Non-secure memory faults"),
    ("RW", 10, 10, "lower ELs are AArch64"), ("ST", 11, 11), ("TWI", 12, 12), ("TWE", 13, 13),
    ("EEL2", 18, 18, "Secure EL2 enable"),
    ("GCSEn", 39, 39, "GCS registers accessible below EL3 (FEAT_GCS)"),
    ("HXEn", 38, 38, "HCRX_EL2 accessible (FEAT_HCX)"),
    ("TCR2En", 43, 43, "TCR2_ELx accessible: 0 makes TCR2_EL1/EL2 read as zero for walks (FEAT_TCR2)"),
    ("SCTLR2En", 44, 44, "SCTLR2_ELx accessible (FEAT_SCTLR2)"),
    ("PIEn", 45, 45, "PIR/POR registers accessible (FEAT_S1PIE/S1POE): 0 may force them to zero (IMPLEMENTATION DEFINED)"),
    ("AIEn", 46, 46, "MAIR2/AMAIR2 accessible (FEAT_AIE)"),
    ("D128En", 47, 47, "128-bit system registers accessible (FEAT_D128)"),
    ("GPF", 48, 48), ("NSE", 62, 62, "with NS: the Security state (FEAT_RME)"),
]))

# HCRX_EL2: the enables the translation ASL reads (ARM D24.2.63)
HCRX_EL2 = Layout("HCRX_EL2", fields([
    ("EnAS0", 0, 0), ("EnALS", 1, 1), ("EnASR", 2, 2), ("FnXS", 3, 3), ("FGTnXS", 4, 4),
    ("SMPME", 5, 5), ("TALLINT", 6, 6), ("VINMI", 7, 7), ("VFNMI", 8, 8), ("CMOW", 9, 9, "cache maintenance needs write permission"),
    ("MCE2", 10, 10), ("MSCEn", 11, 11),
    ("TCR2En", 14, 14, "TCR2_EL1 accessible at EL1: 0 makes TCR2_EL1 read as zero for walks (FEAT_TCR2)"),
    ("SCTLR2En", 15, 15, "SCTLR2_EL1 accessible (FEAT_SCTLR2)"),
    ("PTTWI", 16, 16), ("D128En", 17, 17, "EL1 128-bit system registers (FEAT_D128)"),
    ("EnSNERR", 18, 18), ("TMEA", 19, 19), ("EnSDERR", 20, 20), ("EnIDCP128", 21, 21),
    ("GCSEn", 22, 22, "EL1 GCS registers accessible (FEAT_GCS)"), ("EnFPM", 23, 23), ("PACMEn", 24, 24),
    ("SRMASKEn", 26, 26),
]))

# MAIR_ELx: eight 8-bit attributes
MAIR = Layout("MAIR", fields([(f"Attr{n}", 8 * n + 7, 8 * n) for n in range(8)]))

# PAR_EL1, 64-bit format (ARM D24.2.142)
PAR_EL1_OK = Layout("PAR_EL1", fields([
    ("F", 0, 0, "0: translation succeeded"),
    ("SH", 8, 7, "shareability", _SH),
    ("NS", 9, 9, "non-secure"),
    ("IMPDEF_10", 10, 10),
    ("NSE", 11, 11, "RES1 without FEAT_RME"),
    ("PA", 51, 12, "physical address bits [51:12]"),
    ("ATTR", 63, 56, "memory attributes (MAIR encoding)"),
]))

PAR_EL1_FAULT = Layout("PAR_EL1", fields([
    ("F", 0, 0, "1: translation aborted"),
    ("FST", 6, 1, "fault status code"),
    ("PTW", 8, 8, "stage 2 fault during the stage 1 walk"),
    ("S", 9, 9, "fault at stage 2"),
    ("RES1_11", 11, 11),
    ("AssuredOnly", 12, 12), ("TopLevel", 13, 13), ("Overlay", 14, 14), ("DirtyBit", 15, 15),
    ("IMPDEF", 63, 48),
]))

#: FEAT_D128: PAR_EL1 is 128 bits; bit 64 says which format (ASL ``AArch64.EncodePAR``): with D128 = 1
#: a successful translation's PA[55:12] is in bits [119:76] (bits [51:12] are RES0); the other fields
#: are where the 64-bit layouts have them
PAR_EL1_D128 = Field("D128", 64, 64, "1: the VMSAv9-128 format")
PAR_EL1_D128_PA = Field("PA", 119, 76, "physical address bits [55:12] (D128 format)")

HPFAR_EL2 = Layout("HPFAR_EL2", fields([
    ("FIPA", 47, 4, "faulting IPA bits [55:12]"),
    ("NS", 63, 63),
]))

# PSTATE / SPSR / CPSR as gdb and crash dumps present them
PSTATE = Layout("PSTATE", fields([
    ("SP", 0, 0), ("EL", 3, 2, "exception level"), ("nRW", 4, 4),
    ("F", 6, 6), ("I", 7, 7), ("A", 8, 8), ("D", 9, 9),
    ("SSBS", 12, 12), ("ALLINT", 13, 13),
    ("IL", 20, 20), ("SS", 21, 21), ("PAN", 22, 22, "privileged access never"),
    ("UAO", 23, 23), ("DIT", 24, 24), ("TCO", 25, 25),
    ("V", 28, 28), ("C", 29, 29), ("Z", 30, 30), ("N", 31, 31),
]))

#: register name -> layout, for ``pgwalk decode`` and the register file
REGISTER_LAYOUTS = {
    "TCR_EL1": TCR_EL1, "TCR_EL2": TCR_EL2_E2H0, "TCR_EL3": TCR_EL3, "VTCR_EL2": VTCR_EL2,
    "TTBR0_EL1": TTBR, "TTBR1_EL1": TTBR, "TTBR0_EL2": TTBR, "TTBR1_EL2": TTBR, "TTBR0_EL3": TTBR,
    "VTTBR_EL2": VTTBR_EL2,
    "SCTLR_EL1": SCTLR, "SCTLR_EL2": SCTLR, "SCTLR_EL3": SCTLR,
    "HCR_EL2": HCR_EL2,
    "MAIR_EL1": MAIR, "MAIR_EL2": MAIR, "MAIR_EL3": MAIR,
    "ID_AA64MMFR0_EL1": ID_AA64MMFR0_EL1, "ID_AA64MMFR1_EL1": ID_AA64MMFR1_EL1,
    "ID_AA64MMFR2_EL1": ID_AA64MMFR2_EL1, "ID_AA64ISAR1_EL1": ID_AA64ISAR1_EL1,
    "PAR_EL1": PAR_EL1_OK, "HPFAR_EL2": HPFAR_EL2,
    "TCR2_EL1": TCR2_EL1, "TCR2_EL2": TCR2_EL2,
    "PIR_EL1": PIR, "PIRE0_EL1": PIR, "PIR_EL2": PIR, "PIRE0_EL2": PIR, "PIR_EL3": PIR, "S2PIR_EL2": S2PIR,
    "POR_EL0": POR, "POR_EL1": POR, "POR_EL2": POR, "POR_EL3": POR, "S2POR_EL1": S2POR,
    "MAIR2_EL1": MAIR, "MAIR2_EL2": MAIR, "MAIR2_EL3": MAIR,
    "ID_AA64MMFR3_EL1": ID_AA64MMFR3_EL1, "ID_AA64PFR1_EL1": ID_AA64PFR1_EL1,
    "SCR_EL3": SCR_EL3, "HCRX_EL2": HCRX_EL2,
}
