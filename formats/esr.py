"""ESR_ELx and FAR field layouts (Arm ARM DDI 0487 M.a.a, D24.2.45-47; SCTLR_ELx is in formats/registers.py).

Every ISS / ISS2 encoding is declared here as :class:`~.fields.Layout` rows
with the Arm ARM field names.  Positions are **ESR bit positions**: ISS
fields sit in bits [24:0] and ISS2 fields in bits [55:32] (so ``Xs`` is
``36:32``, ISS2 bit 0 plus 32).  That keeps one coordinate system for the
bit ranges pgwalk prints.

Where the Arm ARM gives one bit two meanings depending on another field
(ISV=1 versus ISV=0 in a Data Abort, LST versus SET, IDS in an SError),
each alternative is a separate layout; which one applies is decided in
:mod:`pgwalk.esr`, not here.
"""

from __future__ import annotations

from .fields import Field, Layout, fields

__all__ = [
    "ESR", "ISS2_SHIFT", "EC_DABT_LOW", "EC_DABT_CUR", "EC_IABT_LOW", "EC_IABT_CUR",
    "ISS_DABT", "ISS_DABT_ISV", "ISS_DABT_NOISV", "ISS_DABT_LST", "ISS_DABT_SET", "ISS2_DABT",
    "ISS_IABT", "ISS2_IABT", "ISS_SERROR", "ISS_SERROR_IMPDEF", "ISS_SYS64", "ISS_SYS128",
    "ISS_WFX", "ISS_MCR", "ISS_MCRR", "ISS_LDC", "ISS_CV_COND", "ISS_OTHER", "ISS_IMM16",
    "ISS_SMC32", "ISS_BTI", "ISS_ERET", "ISS_FPAC", "ISS_SME", "ISS_GPC", "ISS2_GPC",
    "ISS_IMPDEF", "ISS_MOPS", "ISS_FPEXC", "ISS_GCS", "ISS_BREAKPOINT", "ISS_SSTEP",
    "ISS_WATCHPOINT", "ISS2_WATCHPOINT", "ISS_BRK", "ISS_PROFILING", "ISS_RES0",
    "FAR_TAGGED", "FAR_RANGE", "ESR_RES0", "SYS_ENCODING", "MAIR_ATTR", "MAIR_CACHE",
    "MAIR_DEVICE_TYPE", "MAIR_DEVICE_LOW",
]

#: ISS2 starts at ESR bit 32
ISS2_SHIFT = 32

EC_IABT_LOW, EC_IABT_CUR, EC_DABT_LOW, EC_DABT_CUR = 0x20, 0x21, 0x24, 0x25

# The register itself (ARM D24.2.45)
ESR = Layout("ESR_ELx", fields([
    ("ISS", 24, 0, "instruction specific syndrome"),
    ("IL", 25, 25, "instruction length", {0: "16-bit instruction trapped", 1: "32-bit instruction trapped"}),
    ("EC", 31, 26, "exception class"),
    ("ISS2", 55, 32, "instruction specific syndrome 2 (FEAT_LS64, FEAT_THE, FEAT_S1POE, FEAT_GCS, ...)"),
]))

_RW = {0: "read", 1: "write"}
_DIR = {0: "write (MSR / SYS)", 1: "read (MRS / SYSL)"}
_SAS = {0: "byte", 1: "halfword", 2: "word", 3: "doubleword"}
_SET = {0: "recoverable state (UER)", 1: "reserved", 2: "uncontainable (UC)", 3: "restartable state (UEO)"}
_LST = {0: "instruction not specified by this field", 1: "ST64BV", 2: "LD64B or ST64B", 3: "ST64BV0"}
_WU = {0: "not a store, or the location might have been updated", 1: "reserved",
       2: "store that did not update the location", 3: "store that updated the location"}
_CV = {0: "COND not valid", 1: "COND valid"}
_EA = {0: "0 (IMPLEMENTATION DEFINED classification)",
       1: "1 (IMPLEMENTATION DEFINED classification)"}

# ---- Data Abort, EC 0x24 / 0x25 (ARM D24.2.46 "ISS encoding for an exception from a Data Abort")
ISS_DABT = Layout("ISS_DABT", fields([
    ("DFSC", 5, 0, "data fault status code"),
    ("WnR", 6, 6, "write not read", _RW),
    ("S1PTW", 7, 7, "stage 2 fault on a stage 1 translation table walk"),
    ("CM", 8, 8, "cache maintenance or address translation instruction"),
    ("EA", 9, 9, "external abort type", _EA),
    ("FnV", 10, 10, "FAR not valid", {0: "FAR is valid", 1: "FAR is not valid (UNKNOWN)"}),
    ("VNCR", 13, 13, "fault from EL1's use of VNCR_EL2 (FEAT_NV2)"),
    ("ISV", 24, 24, "instruction syndrome valid (ISS[23:14])"),
]))
ISS_DABT_ISV = Layout("ISS_DABT_ISV", fields([
    ("AR", 14, 14, "acquire/release semantics"),
    ("SF", 15, 15, "64-bit register transfer", {0: "32-bit register", 1: "64-bit register"}),
    ("SRT", 20, 16, "syndrome register transfer: Wt/Xt/Rt number"),
    ("SSE", 21, 21, "syndrome sign extend"),
    ("SAS", 23, 22, "syndrome access size", _SAS),
]))
ISS_DABT_NOISV = Layout("ISS_DABT_NOISV", fields([
    ("PFV", 14, 14, "PFAR_EL2 valid (FEAT_PFAR, external aborts)"),
    ("FnP", 15, 15, "FAR not precise (SVE/SME contiguous access: any address in the granule)"),
    ("WU", 17, 16, "write update (FEAT_RASv2, external aborts)", _WU),
    ("TopLevel", 21, 21, "fault due to TopLevel (FEAT_THE)"),
]))
ISS_DABT_LST = Layout("ISS_DABT_LST", fields([("LST", 12, 11, "load/store type (FEAT_LS64)", _LST)]))
ISS_DABT_SET = Layout("ISS_DABT_SET", fields([("SET", 12, 11, "synchronous error type (FEAT_RAS)", _SET)]))
ISS2_DABT = Layout("ISS2_DABT", fields([
    ("Xs", 36, 32, "ST64BV/ST64BV0 status register Xs (FEAT_LS64)"),
    ("DirtyBit", 37, 37, "permission fault due to dirty state (FEAT_S1PIE/S2PIE)"),
    ("Overlay", 38, 38, "due to overlay permissions (FEAT_S1POE/S2POE)"),
    ("AssuredOnly", 39, 39, "due to AssuredOnly (FEAT_THE)"),
    ("GCS", 40, 40, "guarded control stack data access (FEAT_GCS)"),
    ("TagAccess", 41, 41, "due to the NoTagAccess attribute (FEAT_MTE_PERM)"),
    ("TnD", 42, 42, "allocation tag write to canonically tagged memory (FEAT_MTE_CANONICAL_TAGS)"),
    ("HDBSSF", 43, 43, "caused by HDBSS (FEAT_HDBSS)"),
]))

# ---- Instruction Abort, EC 0x20 / 0x21
ISS_IABT = Layout("ISS_IABT", fields([
    ("IFSC", 5, 0, "instruction fault status code"),
    ("S1PTW", 7, 7, "stage 2 fault on a stage 1 translation table walk"),
    ("EA", 9, 9, "external abort type", _EA),
    ("FnV", 10, 10, "FAR not valid", {0: "FAR is valid", 1: "FAR is not valid (UNKNOWN)"}),
    ("SET", 12, 11, "synchronous error type (FEAT_RAS)", _SET),
    ("PFV", 14, 14, "PFAR_EL2 valid (FEAT_PFAR)"),
    ("TopLevel", 21, 21, "fault due to TopLevel (FEAT_THE)"),
]))
ISS2_IABT = Layout("ISS2_IABT", fields([
    ("DirtyBit", 37, 37, "permission fault due to dirty state (FEAT_S2PIE)"),
    ("Overlay", 38, 38, "due to overlay permissions (FEAT_S1POE/S2POE)"),
    ("AssuredOnly", 39, 39, "due to the stage 2 AssuredOnly attribute (FEAT_THE)"),
    ("HDBSSF", 43, 43, "caused by HDBSS (FEAT_HDBSS)"),
]))

# ---- SError, EC 0x2F
ISS_SERROR = Layout("ISS_SERROR", fields([
    ("DFSC", 5, 0, "fault status code", {0: "uncategorized error", 0b010001: "asynchronous SError exception"}),
    ("WnR", 6, 6, "write not read (FEAT_RASv2, valid when WnRV = 1)", _RW),
    ("WnRV", 7, 7, "WnR valid (FEAT_RASv2)"),
    ("EA", 9, 9, "external abort type", _EA),
    ("AET", 12, 10, "asynchronous error type", {
        0: "uncontainable (UC)", 1: "unrecoverable state (UEU)", 2: "restartable state (UEO)",
        3: "recoverable state (UER)", 6: "corrected (CE)"}),
    ("IESB", 13, 13, "synchronized by an implicit error synchronization event (FEAT_IESB)"),
    ("PFV", 14, 14, "PFAR_EL2 valid (FEAT_PFAR)"),
    ("VFV", 15, 15, "FAR valid (FEAT_RASv2)"),
    ("WU", 17, 16, "write update (FEAT_RASv2)", _WU),
    ("ELS", 18, 18, "ELR_ELx points at the triggering instruction (FEAT_RASv2)"),
    ("IDS", 24, 24, "IMPLEMENTATION DEFINED syndrome",
     {0: "ISS[23:0] architectural", 1: "ISS[23:0] IMPLEMENTATION DEFINED"}),
]))
ISS_SERROR_IMPDEF = Layout("ISS_SERROR_IMPDEF", fields([
    ("IMPDEF", 23, 0, "IMPLEMENTATION DEFINED syndrome"),
    ("IDS", 24, 24, "IMPLEMENTATION DEFINED syndrome"),
]))

# ---- MSR / MRS / System instruction, EC 0x18
ISS_SYS64 = Layout("ISS_SYS64", fields([
    ("Direction", 0, 0, "direction", _DIR),
    ("CRm", 4, 1, "CRm"),
    ("Rt", 9, 5, "general-purpose register"),
    ("CRn", 13, 10, "CRn"),
    ("Op1", 16, 14, "Op1"),
    ("Op2", 19, 17, "Op2"),
    ("Op0", 21, 20, "Op0"),
]))
# ---- MSRR / MRRS / SYSP, EC 0x14 (Rt names the register pair X[Rt*2], X[Rt*2+1])
ISS_SYS128 = Layout("ISS_SYS128", fields([
    ("Direction", 0, 0, "direction", {0: "write (MSRR / SYSP)", 1: "read (MRRS)"}),
    ("CRm", 4, 1, "CRm"),
    ("Rt", 9, 6, "register pair Rt (X[2*Rt], X[2*Rt+1])"),
    ("CRn", 13, 10, "CRn"),
    ("Op1", 16, 14, "Op1"),
    ("Op2", 19, 17, "Op2"),
    ("Op0", 21, 20, "Op0"),
]))

# ---- WFI / WFE / WFIT / WFET, EC 0x01
ISS_WFX = Layout("ISS_WFX", fields([
    ("TI", 1, 0, "trapped instruction", {0: "WFI", 1: "WFE", 2: "WFIT", 3: "WFET"}),
    ("RV", 2, 2, "RN valid (FEAT_WFxT)"),
    ("RN", 9, 5, "timeout register of WFIT/WFET (FEAT_WFxT)"),
    ("COND", 23, 20, "condition code (AArch32)"),
    ("CV", 24, 24, "condition code valid", _CV),
]))

# ---- AArch32 coprocessor traps
ISS_MCR = Layout("ISS_MCR", fields([        # EC 0x03, 0x05, 0x08
    ("Direction", 0, 0, "direction", {0: "write (MCR)", 1: "read (MRC / VMRS)"}),
    ("CRm", 4, 1, "CRm"), ("Rt", 9, 5, "general-purpose register (AArch64 view)"),
    ("CRn", 13, 10, "CRn"), ("Opc1", 16, 14, "Opc1"), ("Opc2", 19, 17, "Opc2"),
    ("COND", 23, 20, "condition code"), ("CV", 24, 24, "condition code valid", _CV),
]))
ISS_MCRR = Layout("ISS_MCRR", fields([       # EC 0x04, 0x0C
    ("Direction", 0, 0, "direction", {0: "write (MCRR)", 1: "read (MRRC)"}),
    ("CRm", 4, 1, "CRm"), ("Rt", 9, 5, "first general-purpose register"),
    ("Rt2", 14, 10, "second general-purpose register"), ("Opc1", 19, 16, "Opc1"),
    ("COND", 23, 20, "condition code"), ("CV", 24, 24, "condition code valid", _CV),
]))
ISS_LDC = Layout("ISS_LDC", fields([         # EC 0x06
    ("Direction", 0, 0, "direction", {0: "write to memory (STC)", 1: "read from memory (LDC)"}),
    ("AM", 3, 1, "addressing mode", {0: "immediate unindexed", 1: "immediate post-indexed",
                                     2: "immediate offset", 3: "immediate pre-indexed",
                                     4: "literal unindexed", 6: "literal offset"}),
    ("Offset", 4, 4, "offset direction", {0: "subtract", 1: "add"}),
    ("Rn", 9, 5, "base register"), ("imm8", 19, 12, "immediate"),
    ("COND", 23, 20, "condition code"), ("CV", 24, 24, "condition code valid", _CV),
]))
ISS_CV_COND = Layout("ISS_CV_COND", fields([  # EC 0x07 (FPEN/TFP traps)
    ("COND", 23, 20, "condition code (AArch32)"), ("CV", 24, 24, "condition code valid", _CV),
]))

# ---- EC 0x0A: other trapped instructions
ISS_OTHER = Layout("ISS_OTHER", fields([
    ("ISS", 24, 0, "trapped instruction", {0: "ST64BV", 1: "ST64BV0", 2: "LD64B or ST64B",
                                           3: "TSB CSYNC", 4: "PSB CSYNC"}),
]))
# ---- SVC / HVC (AArch32 and AArch64), SMC (AArch64)
ISS_IMM16 = Layout("ISS_IMM16", fields([("imm16", 15, 0, "immediate of the instruction")]))
ISS_SMC32 = Layout("ISS_SMC32", fields([
    ("CCKNOWNPASS", 19, 19, "instruction might have failed its condition code check"),
    ("COND", 23, 20, "condition code"), ("CV", 24, 24, "condition code valid", _CV),
]))
ISS_BTI = Layout("ISS_BTI", fields([
    ("BTYPE", 1, 0, "PSTATE.BTYPE that caused the exception",
     {0: "00: not after an indirect branch",
      1: "01 (jc): BR* via X16/X17, or from a non-guarded page; needs BTI j, c or jc",
      2: "10 (c): BLR*, a call; needs BTI c or jc (or PACIxSP)",
      3: "11 (j): BR* via another register from a guarded page; needs BTI j or jc"}),
]))
ISS_ERET = Layout("ISS_ERET", fields([
    ("ERETA", 0, 0, "key (valid when ERET = 1)", {0: "ERETAA", 1: "ERETAB"}),
    ("ERET", 1, 1, "instruction", {0: "ERET", 1: "ERETAA or ERETAB"}),
]))
ISS_FPAC = Layout("ISS_FPAC", fields([
    ("BnA", 0, 0, "key", {0: "A key", 1: "B key"}),
    ("DnI", 1, 1, "key kind", {0: "instruction key", 1: "data key"}),
]))
ISS_SME = Layout("ISS_SME", fields([
    ("SMTC", 2, 0, "SME trap code", {
        0: "SME access trapped by CPACR_EL1.SMEN / CPTR_EL2.SMEN / CPTR_EL2.TSM / CPTR_EL3.ESM",
        1: "Advanced SIMD/SVE/SVE2 instruction trapped because PSTATE.SM is 1",
        2: "SME instruction trapped because PSTATE.SM is 0",
        3: "SME instruction trapped because PSTATE.ZA is 0",
        4: "ZT0 access trapped by SMCR_ELx.EZT0 (FEAT_SME2)"}),
]))
# ---- Granule Protection Check, EC 0x1E (ESR_EL3 only)
ISS_GPC = Layout("ISS_GPC", fields([
    ("xFSC", 5, 0, "fault status code of the access"),
    ("WnR", 6, 6, "write not read", _RW),
    ("S1PTW", 7, 7, "stage 2 translation of a stage 1 walk"),
    ("CM", 8, 8, "cache maintenance or address translation instruction"),
    ("VNCR", 13, 13, "from EL1's use of VNCR_EL2"),
    ("GPCSC", 19, 14, "granule protection check status code", {
        0b000000: "GPT address size fault, level 0", 0b000100: "GPT walk fault, level 0",
        0b000101: "GPT walk fault, level 1", 0b001100: "granule protection fault, level 0",
        0b001101: "granule protection fault, level 1",
        0b010100: "synchronous external abort on GPT fetch, level 0",
        0b010101: "synchronous external abort on GPT fetch, level 1"}),
    ("InD", 20, 20, "access kind", {0: "data access", 1: "instruction access"}),
    ("S2PTW", 21, 21, "on a stage 2 translation table walk"),
]))
ISS2_GPC = Layout("ISS2_GPC", fields([
    ("GCS", 40, 40, "guarded control stack data access"),
    ("HDBSSF", 43, 43, "caused by HDBSS"),
]))
ISS_IMPDEF = Layout("ISS_IMPDEF", fields([("IMPLEMENTATIONDEFINED", 24, 0, "IMPLEMENTATION DEFINED syndrome")]))
# ---- Memory copy / set, EC 0x27 (FEAT_MOPS)
ISS_MOPS = Layout("ISS_MOPS", fields([
    ("sizereg", 4, 0, "size register"), ("srcreg", 9, 5, "source register (or data for SET*)"),
    ("destreg", 14, 10, "destination register"),
    ("FormatOption", 17, 16, "register format option", {0: "option B", 1: "option A", 2: "option A", 3: "option B"}),
    ("FromEpilogue", 18, 18, "epilogue instruction (CPYE*, CPYFE*, SETE*, SETGE*)"),
    ("Options", 22, 19, "Options field of the instruction"),
    ("isSETG", 23, 23, "SETGM* or SETGE* instruction"),
    ("MemInst", 24, 24, "instruction class", {0: "CPY* (memory copy)", 1: "SET* (memory set)"}),
]))
# ---- Trapped floating-point exception, EC 0x28 / 0x2C
ISS_FPEXC = Layout("ISS_FPEXC", fields([
    ("IOF", 0, 0, "invalid operation"), ("DZF", 1, 1, "divide by zero"), ("OFF", 2, 2, "overflow"),
    ("UFF", 3, 3, "underflow"), ("IXF", 4, 4, "inexact"), ("IDF", 7, 7, "input denormal"),
    ("VECITR", 10, 8, "vector iteration (AArch32: RES1)"),
    ("TFV", 23, 23, "trapped fault flags valid"),
]))
# ---- GCS exception, EC 0x2D (FEAT_GCS)
ISS_GCS = Layout("ISS_GCS", fields([
    ("IT", 4, 0, "instruction type (data check)", {
        0: "procedure return without pointer authentication", 1: "GCSPOPM",
        2: "procedure return with pointer authentication, key A",
        3: "procedure return with pointer authentication, key B",
        4: "GCSSS1", 5: "GCSSS2", 8: "GCSPOPCX", 9: "GCSPOPX"}),
    ("Rn", 9, 5, "register number (Rn for a data check, Rvalue for a GCSSTR trap)"),
    ("Raddr", 14, 10, "address register of a trapped GCSSTR/GCSSTTR"),
    ("ExType", 23, 20, "GCS exception type", {0: "GCS data check", 1: "EXLOCK exception",
                                              2: "trapped GCSSTR or GCSSTTR"}),
]))
# ---- Debug
_DEBUG_FSC = {0b100010: "debug exception"}
ISS_BREAKPOINT = Layout("ISS_BREAKPOINT", fields([("IFSC", 5, 0, "fault status code", _DEBUG_FSC)]))
ISS_SSTEP = Layout("ISS_SSTEP", fields([
    ("IFSC", 5, 0, "fault status code", _DEBUG_FSC),
    ("EX", 6, 6, "a load-exclusive was stepped (valid when ISV = 1)"),
    ("ISV", 24, 24, "EX valid"),
]))
ISS_WATCHPOINT = Layout("ISS_WATCHPOINT", fields([
    ("DFSC", 5, 0, "fault status code", _DEBUG_FSC),
    ("WnR", 6, 6, "write not read", _RW),
    ("CM", 8, 8, "cache maintenance instruction"),
    ("FnV", 10, 10, "FAR not valid", {0: "FAR is valid", 1: "FAR is not valid (UNKNOWN)"}),
    ("VNCR", 13, 13, "from EL1's use of VNCR_EL2"),
    ("FnP", 15, 15, "FAR not precise (any address in the smallest granule)"),
    ("WPF", 16, 16, "watchpoint might be false-positive"),
    ("WPTV", 17, 17, "WPT valid (FEAT_Debugv8p2)"),
    ("WPT", 23, 18, "watchpoint number (FEAT_Debugv8p2)"),
]))
ISS2_WATCHPOINT = Layout("ISS2_WATCHPOINT", fields([("GCS", 40, 40, "guarded control stack data access")]))
ISS_BRK = Layout("ISS_BRK", fields([("Comment", 15, 0, "comment field of the BRK/BKPT instruction")]))
ISS_PROFILING = Layout("ISS_PROFILING", fields([
    ("SYNC", 0, 0, "taken synchronously (FEAT_SEBEP)"),
    ("FSC", 5, 1, "profiling exception cause", {0: "PMU profiling exception (counter overflow)",
                                                1: "profiling buffer management event (PMBSR_EL2.S)",
                                                2: "trace buffer management event (TRBSR_EL2.IRQ)"}),
]))
#: ISS encodings that are all RES0 (unknown reason, illegal state, PC/SP alignment, SVE, PAuth trap)
ISS_RES0 = Layout("ISS_RES0", ())

#: ESR bits [63:56], RES0
ESR_RES0 = Field("RES0", 63, 56, "reserved, RES0")
#: ISS[21:1] of EC 0x18 / 0x14: Op0, Op2, Op1, CRn, Rt, CRm together (the trapped instruction's encoding)
SYS_ENCODING = Field("encoding", 21, 1, "Op0, Op2, Op1, CRn, Rt and CRm of the trapped instruction")

# ---- MAIR / PAR.ATTR attribute byte (ARM D24.2.127)
MAIR_ATTR = Layout("MAIR_ATTR", fields([
    ("Inner", 3, 0, "inner cacheability (Normal), or Device type in [3:2] and XS/reserved in [1:0]"),
    ("Outer", 7, 4, "outer cacheability (Normal); 0b0000 for Device"),
]), width=8)
#: one cacheability nibble of a Normal attribute: [3:2] kind, [1] read-allocate, [0] write-allocate
MAIR_CACHE = Layout("MAIR_CACHE", fields([
    ("W", 0, 0, "write-allocate"), ("R", 1, 1, "read-allocate"),
    ("Kind", 3, 2, "cacheability", {0: "Write-Through transient", 1: "Write-Back transient",
                                    2: "Write-Through", 3: "Write-Back"}),
]), width=4)
#: Device attribute: [3:2] the Device type
MAIR_DEVICE_TYPE = Field("dd", 3, 2, "Device type", {0: "nGnRnE", 1: "nGnRE", 2: "nGRE", 3: "GRE"})
MAIR_DEVICE_LOW = Field("low", 1, 0, "0b00 XS = 1, 0b01 XS = 0 (FEAT_XS), else UNPREDICTABLE")

# ---- FAR with a tag byte (for display)
FAR_TAGGED = Layout("FAR", fields([
    ("VA", 55, 0, "virtual address bits [55:0]"),
    ("Tag", 63, 56, "top byte (tag when TBI applies; UNKNOWN for some aborts)"),
]))
#: VA bit 55 selects the TTBR1 (1) or TTBR0 (0) range (ASL AArch64.GetVARange)
FAR_RANGE = Field("VA55", 55, 55, "TTBR range select", {0: "TTBR0 (lower) range", 1: "TTBR1 (upper) range"})
