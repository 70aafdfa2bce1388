"""AArch64 System register and System instruction encodings.

Maps ``(op0, op1, CRn, CRm, op2)`` to the architectural name, for decoding
trapped MSR/MRS/SYS instructions (ESR EC 0x18 and 0x14).  The table is
written by hand from the Arm ARM (DDI 0487 M.a.a, chapter D24 register
pages and C5 System instruction tables); numbered families (breakpoints,
PMU event counters, GIC list registers, ...) are generated.

Coverage: ID registers; EL1/EL2/EL3 MMU, exception, context and control
registers; EL12/EL02 aliases; generic timers; debug (breakpoints,
watchpoints, OS lock, DCC, BRBE control); PMU and SPE basics; RAS error
records; activity monitors; GICv3 ``ICC_*``/``ICH_*``; pointer
authentication keys; MTE, SME, SVE, GCS, MPAM and permission-indirection
registers; and the op0 = 1 System instructions (AT, DC, IC, TLBI incl.
nXS, prediction restriction, GCS).

Registers with different names for reads and writes at one encoding are
stored as ``(read_name, write_name)``; :func:`sysreg_name` picks by the
direction bit.
"""

from __future__ import annotations

__all__ = ["SYSREGS", "sysreg_name", "sysreg_encoding", "format_encoding"]

Key = tuple  # (op0, op1, CRn, CRm, op2)


def _build() -> dict[Key, str | tuple[str, str]]:
    t: dict[Key, str | tuple[str, str]] = {}

    def add(name, op0, op1, crn, crm, op2):
        key = (op0, op1, crn, crm, op2)
        if key in t and t[key] != name:
            raise ValueError(f"duplicate encoding {key}: {t[key]} / {name}")
        t[key] = name

    def group(op0, op1, crn, crm, names):
        """``names`` indexed by op2; ``None`` skips."""
        for op2, name in enumerate(names):
            if name:
                add(name, op0, op1, crn, crm, op2)

    # ------------------------------------------------------------------ ID registers (op0=3, op1=0, CRn=0)
    group(3, 0, 0, 0, ["MIDR_EL1", None, None, None, None, "MPIDR_EL1", "REVIDR_EL1"])
    group(3, 0, 0, 1, ["ID_PFR0_EL1", "ID_PFR1_EL1", "ID_DFR0_EL1", "ID_AFR0_EL1",
                       "ID_MMFR0_EL1", "ID_MMFR1_EL1", "ID_MMFR2_EL1", "ID_MMFR3_EL1"])
    group(3, 0, 0, 2, ["ID_ISAR0_EL1", "ID_ISAR1_EL1", "ID_ISAR2_EL1", "ID_ISAR3_EL1",
                       "ID_ISAR4_EL1", "ID_ISAR5_EL1", "ID_MMFR4_EL1", "ID_ISAR6_EL1"])
    group(3, 0, 0, 3, ["MVFR0_EL1", "MVFR1_EL1", "MVFR2_EL1", None, "ID_PFR2_EL1",
                       "ID_DFR1_EL1", "ID_MMFR5_EL1"])
    group(3, 0, 0, 4, ["ID_AA64PFR0_EL1", "ID_AA64PFR1_EL1", "ID_AA64PFR2_EL1", None,
                       "ID_AA64ZFR0_EL1", "ID_AA64SMFR0_EL1", None, "ID_AA64FPFR0_EL1"])
    group(3, 0, 0, 5, ["ID_AA64DFR0_EL1", "ID_AA64DFR1_EL1", "ID_AA64DFR2_EL1", None,
                       "ID_AA64AFR0_EL1", "ID_AA64AFR1_EL1"])
    group(3, 0, 0, 6, ["ID_AA64ISAR0_EL1", "ID_AA64ISAR1_EL1", "ID_AA64ISAR2_EL1", "ID_AA64ISAR3_EL1"])
    group(3, 0, 0, 7, ["ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1",
                       "ID_AA64MMFR3_EL1", "ID_AA64MMFR4_EL1"])
    group(3, 1, 0, 0, ["CCSIDR_EL1", "CLIDR_EL1", "CCSIDR2_EL1", None, "GMID_EL1", None,
                       "SMIDR_EL1", "AIDR_EL1"])
    add("CSSELR_EL1", 3, 2, 0, 0, 0)
    add("CTR_EL0", 3, 3, 0, 0, 1)
    add("DCZID_EL0", 3, 3, 0, 0, 7)
    add("VPIDR_EL2", 3, 4, 0, 0, 0)
    add("VMPIDR_EL2", 3, 4, 0, 0, 5)

    # ------------------------------------------------------------------ EL1 (op1=0)
    group(3, 0, 1, 0, ["SCTLR_EL1", "ACTLR_EL1", "CPACR_EL1", "SCTLR2_EL1", None, "RGSR_EL1", "GCR_EL1"])
    group(3, 0, 1, 2, ["ZCR_EL1", "TRFCR_EL1", None, None, "SMPRI_EL1", None, "SMCR_EL1"])
    group(3, 0, 2, 0, ["TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "TCR2_EL1"])
    group(3, 0, 2, 1, ["APIAKeyLo_EL1", "APIAKeyHi_EL1", "APIBKeyLo_EL1", "APIBKeyHi_EL1"])
    group(3, 0, 2, 2, ["APDAKeyLo_EL1", "APDAKeyHi_EL1", "APDBKeyLo_EL1", "APDBKeyHi_EL1"])
    group(3, 0, 2, 3, ["APGAKeyLo_EL1", "APGAKeyHi_EL1"])
    group(3, 0, 2, 5, ["GCSCR_EL1", "GCSPR_EL1", "GCSCRE0_EL1"])
    group(3, 0, 4, 0, ["SPSR_EL1", "ELR_EL1"])
    add("SP_EL0", 3, 0, 4, 1, 0)
    group(3, 0, 4, 2, ["SPSel", None, "CurrentEL", "PAN", "UAO"])
    add("ALLINT", 3, 0, 4, 3, 0)
    add("ICC_PMR_EL1", 3, 0, 4, 6, 0)
    group(3, 0, 5, 1, ["AFSR0_EL1", "AFSR1_EL1"])
    add("ESR_EL1", 3, 0, 5, 2, 0)
    group(3, 0, 5, 3, ["ERRIDR_EL1", "ERRSELR_EL1", "ERXGSR_EL1"])
    group(3, 0, 5, 4, ["ERXFR_EL1", "ERXCTLR_EL1", "ERXSTATUS_EL1", "ERXADDR_EL1",
                       "ERXPFGF_EL1", "ERXPFGCTL_EL1", "ERXPFGCDN_EL1"])
    group(3, 0, 5, 5, ["ERXMISC0_EL1", "ERXMISC1_EL1", "ERXMISC2_EL1", "ERXMISC3_EL1"])
    group(3, 0, 5, 6, ["TFSR_EL1", "TFSRE0_EL1"])
    add("FAR_EL1", 3, 0, 6, 0, 0)
    add("PFAR_EL1", 3, 0, 6, 0, 5)
    add("PAR_EL1", 3, 0, 7, 4, 0)
    group(3, 0, 9, 9, ["PMSCR_EL1", "PMSNEVFR_EL1", "PMSICR_EL1", "PMSIRR_EL1", "PMSFCR_EL1",
                       "PMSEVFR_EL1", "PMSLATFR_EL1", "PMSIDR_EL1"])
    group(3, 0, 9, 10, ["PMBLIMITR_EL1", "PMBPTR_EL1", None, "PMBSR_EL1", None, None, None, "PMBIDR_EL1"])
    group(3, 0, 9, 14, [None, "PMINTENSET_EL1", "PMINTENCLR_EL1", None, None, None, "PMMIR_EL1"])
    group(3, 0, 10, 2, ["MAIR_EL1", "MAIR2_EL1", "PIRE0_EL1", "PIR_EL1", "POR_EL1", "S2POR_EL1"])
    group(3, 0, 10, 3, ["AMAIR_EL1", "AMAIR2_EL1"])
    group(3, 0, 10, 4, ["LORSA_EL1", "LOREA_EL1", "LORN_EL1", "LORC_EL1", "MPAMIDR_EL1", None, None, "LORID_EL1"])
    group(3, 0, 10, 5, ["MPAM1_EL1", "MPAM0_EL1"])
    group(3, 0, 12, 0, ["VBAR_EL1", "RVBAR_EL1", "RMR_EL1"])
    group(3, 0, 12, 1, ["ISR_EL1", "DISR_EL1"])
    group(3, 0, 12, 8, ["ICC_IAR0_EL1", "ICC_EOIR0_EL1", "ICC_HPPIR0_EL1", "ICC_BPR0_EL1",
                        "ICC_AP0R0_EL1", "ICC_AP0R1_EL1", "ICC_AP0R2_EL1", "ICC_AP0R3_EL1"])
    group(3, 0, 12, 9, ["ICC_AP1R0_EL1", "ICC_AP1R1_EL1", "ICC_AP1R2_EL1", "ICC_AP1R3_EL1",
                        None, "ICC_NMIAR1_EL1"])
    group(3, 0, 12, 11, [None, "ICC_DIR_EL1", None, "ICC_RPR_EL1", None, "ICC_SGI1R_EL1",
                         "ICC_ASGI1R_EL1", "ICC_SGI0R_EL1"])
    group(3, 0, 12, 12, ["ICC_IAR1_EL1", "ICC_EOIR1_EL1", "ICC_HPPIR1_EL1", "ICC_BPR1_EL1",
                         "ICC_CTLR_EL1", "ICC_SRE_EL1", "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1"])
    group(3, 0, 13, 0, [None, "CONTEXTIDR_EL1", None, None, "TPIDR_EL1", "ACCDATA_EL1", None, "SCXTNUM_EL1"])
    add("CNTKCTL_EL1", 3, 0, 14, 1, 0)

    # ------------------------------------------------------------------ EL0 (op1=3)
    group(3, 3, 2, 4, ["RNDR", "RNDRRS"])
    add("GCSPR_EL0", 3, 3, 2, 5, 1)
    add("POR_EL0", 3, 3, 10, 2, 4)
    group(3, 3, 4, 2, ["NZCV", "DAIF", "SVCR", None, None, "DIT", "SSBS", "TCO"])
    group(3, 3, 4, 4, ["FPCR", "FPSR", "FPMR"])
    group(3, 3, 4, 5, ["DSPSR_EL0", "DLR_EL0"])
    group(3, 3, 9, 12, ["PMCR_EL0", "PMCNTENSET_EL0", "PMCNTENCLR_EL0", "PMOVSCLR_EL0",
                        "PMSWINC_EL0", "PMSELR_EL0", "PMCEID0_EL0", "PMCEID1_EL0"])
    group(3, 3, 9, 13, ["PMCCNTR_EL0", "PMXEVTYPER_EL0", "PMXEVCNTR_EL0"])
    group(3, 3, 9, 14, ["PMUSERENR_EL0", None, None, "PMOVSSET_EL0"])
    group(3, 3, 13, 0, [None, None, "TPIDR_EL0", "TPIDRRO_EL0", None, "TPIDR2_EL0", None, "SCXTNUM_EL0"])
    group(3, 3, 13, 2, ["AMCR_EL0", "AMCFGR_EL0", "AMCGCR_EL0", "AMUSERENR_EL0",
                        "AMCNTENCLR0_EL0", "AMCNTENSET0_EL0"])
    group(3, 3, 13, 3, ["AMCNTENCLR1_EL0", "AMCNTENSET1_EL0"])
    for n in range(16):
        add(f"AMEVCNTR0{n}_EL0", 3, 3, 13, 4 + n // 8, n % 8)
        add(f"AMEVTYPER0{n}_EL0", 3, 3, 13, 6 + n // 8, n % 8)
        add(f"AMEVCNTR1{n}_EL0", 3, 3, 13, 12 + n // 8, n % 8)
        add(f"AMEVTYPER1{n}_EL0", 3, 3, 13, 14 + n // 8, n % 8)
    group(3, 3, 14, 0, ["CNTFRQ_EL0", "CNTPCT_EL0", "CNTVCT_EL0", None, None, "CNTPCTSS_EL0", "CNTVCTSS_EL0"])
    group(3, 3, 14, 2, ["CNTP_TVAL_EL0", "CNTP_CTL_EL0", "CNTP_CVAL_EL0"])
    group(3, 3, 14, 3, ["CNTV_TVAL_EL0", "CNTV_CTL_EL0", "CNTV_CVAL_EL0"])
    for n in range(31):
        add(f"PMEVCNTR{n}_EL0", 3, 3, 14, 8 + n // 8, n % 8)
        add(f"PMEVTYPER{n}_EL0", 3, 3, 14, 12 + n // 8, n % 8)
    add("PMCCFILTR_EL0", 3, 3, 14, 15, 7)

    # ------------------------------------------------------------------ EL2 (op1=4)
    group(3, 4, 1, 0, ["SCTLR_EL2", "ACTLR_EL2", None, "SCTLR2_EL2"])
    group(3, 4, 1, 1, ["HCR_EL2", "MDCR_EL2", "CPTR_EL2", "HSTR_EL2", "HFGRTR_EL2",
                       "HFGWTR_EL2", "HFGITR_EL2", "HACR_EL2"])
    group(3, 4, 1, 2, ["ZCR_EL2", "TRFCR_EL2", "HCRX_EL2", None, None, "SMPRIMAP_EL2", "SMCR_EL2"])
    add("SDER32_EL2", 3, 4, 1, 3, 1)
    group(3, 4, 2, 0, ["TTBR0_EL2", "TTBR1_EL2", "TCR_EL2", "TCR2_EL2"])
    group(3, 4, 2, 1, ["VTTBR_EL2", None, "VTCR_EL2"])
    add("VNCR_EL2", 3, 4, 2, 2, 0)
    group(3, 4, 2, 5, ["GCSCR_EL2", "GCSPR_EL2"])
    group(3, 4, 2, 6, ["VSTTBR_EL2", None, "VSTCR_EL2"])
    add("DACR32_EL2", 3, 4, 3, 0, 0)
    group(3, 4, 3, 1, [None, None, None, None, "HDFGRTR_EL2", "HDFGWTR_EL2", "HAFGRTR_EL2"])
    group(3, 4, 4, 0, ["SPSR_EL2", "ELR_EL2"])
    add("SP_EL1", 3, 4, 4, 1, 0)
    group(3, 4, 4, 3, ["SPSR_irq", "SPSR_abt", "SPSR_und", "SPSR_fiq"])
    add("IFSR32_EL2", 3, 4, 5, 0, 1)
    group(3, 4, 5, 1, ["AFSR0_EL2", "AFSR1_EL2"])
    group(3, 4, 5, 2, ["ESR_EL2", None, None, "VSESR_EL2"])
    add("FPEXC32_EL2", 3, 4, 5, 3, 0)
    add("TFSR_EL2", 3, 4, 5, 6, 0)
    group(3, 4, 6, 0, ["FAR_EL2", None, None, None, "HPFAR_EL2", "PFAR_EL2"])
    add("PMSCR_EL2", 3, 4, 9, 9, 0)
    add("MAIR2_EL2", 3, 4, 10, 1, 1)
    group(3, 4, 10, 2, ["MAIR_EL2", None, "PIRE0_EL2", "PIR_EL2", "POR_EL2", "S2PIR_EL2"])
    group(3, 4, 10, 3, ["AMAIR_EL2", "AMAIR2_EL2"])
    group(3, 4, 10, 4, ["MPAMHCR_EL2", "MPAMVPMV_EL2"])
    add("MPAM2_EL2", 3, 4, 10, 5, 0)
    group(3, 4, 10, 6, [f"MPAMVPM{n}_EL2" for n in range(8)])
    group(3, 4, 12, 0, ["VBAR_EL2", "RVBAR_EL2", "RMR_EL2"])
    add("VDISR_EL2", 3, 4, 12, 1, 1)
    group(3, 4, 12, 8, [f"ICH_AP0R{n}_EL2" for n in range(4)])
    group(3, 4, 12, 9, [f"ICH_AP1R{n}_EL2" for n in range(4)] + [None, "ICC_SRE_EL2"])
    group(3, 4, 12, 11, ["ICH_HCR_EL2", "ICH_VTR_EL2", "ICH_MISR_EL2", "ICH_EISR_EL2",
                         None, "ICH_ELRSR_EL2", None, "ICH_VMCR_EL2"])
    for n in range(16):
        add(f"ICH_LR{n}_EL2", 3, 4, 12, 12 + n // 8, n % 8)
    group(3, 4, 13, 0, [None, "CONTEXTIDR_EL2", "TPIDR_EL2", None, None, None, None, "SCXTNUM_EL2"])
    group(3, 4, 14, 0, [None, None, None, "CNTVOFF_EL2", None, None, "CNTPOFF_EL2"])
    add("CNTHCTL_EL2", 3, 4, 14, 1, 0)
    group(3, 4, 14, 2, ["CNTHP_TVAL_EL2", "CNTHP_CTL_EL2", "CNTHP_CVAL_EL2"])
    group(3, 4, 14, 3, ["CNTHV_TVAL_EL2", "CNTHV_CTL_EL2", "CNTHV_CVAL_EL2"])
    group(3, 4, 14, 4, ["CNTHVS_TVAL_EL2", "CNTHVS_CTL_EL2", "CNTHVS_CVAL_EL2"])
    group(3, 4, 14, 5, ["CNTHPS_TVAL_EL2", "CNTHPS_CTL_EL2", "CNTHPS_CVAL_EL2"])

    # ------------------------------------------------------------------ EL12 / EL02 aliases (op1=5), VHE
    group(3, 5, 1, 0, ["SCTLR_EL12", None, "CPACR_EL12", "SCTLR2_EL12"])
    group(3, 5, 1, 2, ["ZCR_EL12", "TRFCR_EL12", None, None, None, None, "SMCR_EL12"])
    group(3, 5, 2, 0, ["TTBR0_EL12", "TTBR1_EL12", "TCR_EL12", "TCR2_EL12"])
    group(3, 5, 2, 5, ["GCSCR_EL12", "GCSPR_EL12"])
    group(3, 5, 4, 0, ["SPSR_EL12", "ELR_EL12"])
    group(3, 5, 5, 1, ["AFSR0_EL12", "AFSR1_EL12"])
    add("ESR_EL12", 3, 5, 5, 2, 0)
    add("TFSR_EL12", 3, 5, 5, 6, 0)
    add("FAR_EL12", 3, 5, 6, 0, 0)
    add("PFAR_EL12", 3, 5, 6, 0, 5)
    add("PMSCR_EL12", 3, 5, 9, 9, 0)
    group(3, 5, 10, 2, ["MAIR_EL12", "MAIR2_EL12", "PIRE0_EL12", "PIR_EL12", "POR_EL12"])
    group(3, 5, 10, 3, ["AMAIR_EL12", "AMAIR2_EL12"])
    add("MPAM1_EL12", 3, 5, 10, 5, 0)
    add("VBAR_EL12", 3, 5, 12, 0, 0)
    group(3, 5, 13, 0, [None, "CONTEXTIDR_EL12", None, None, None, None, None, "SCXTNUM_EL12"])
    add("CNTKCTL_EL12", 3, 5, 14, 1, 0)
    group(3, 5, 14, 2, ["CNTP_TVAL_EL02", "CNTP_CTL_EL02", "CNTP_CVAL_EL02"])
    group(3, 5, 14, 3, ["CNTV_TVAL_EL02", "CNTV_CTL_EL02", "CNTV_CVAL_EL02"])

    # ------------------------------------------------------------------ EL3 (op1=6) and CNTPS (op1=7)
    group(3, 6, 1, 0, ["SCTLR_EL3", "ACTLR_EL3", None, "SCTLR2_EL3"])
    group(3, 6, 1, 1, ["SCR_EL3", "SDER32_EL3", "CPTR_EL3"])
    group(3, 6, 1, 2, ["ZCR_EL3", None, None, None, None, None, "SMCR_EL3"])
    add("MDCR_EL3", 3, 6, 1, 3, 1)
    group(3, 6, 2, 0, ["TTBR0_EL3", None, "TCR_EL3"])
    group(3, 6, 2, 1, [None, None, None, None, "GPTBR_EL3", None, "GPCCR_EL3"])
    group(3, 6, 2, 5, ["GCSCR_EL3", "GCSPR_EL3"])
    group(3, 6, 4, 0, ["SPSR_EL3", "ELR_EL3"])
    add("SP_EL2", 3, 6, 4, 1, 0)
    group(3, 6, 5, 1, ["AFSR0_EL3", "AFSR1_EL3"])
    add("ESR_EL3", 3, 6, 5, 2, 0)
    add("TFSR_EL3", 3, 6, 5, 6, 0)
    add("FAR_EL3", 3, 6, 6, 0, 0)
    add("MFAR_EL3", 3, 6, 6, 0, 5)
    add("MAIR2_EL3", 3, 6, 10, 1, 1)
    group(3, 6, 10, 2, ["MAIR_EL3", None, None, "PIR_EL3", "POR_EL3"])
    group(3, 6, 10, 3, ["AMAIR_EL3", "AMAIR2_EL3"])
    add("MPAM3_EL3", 3, 6, 10, 5, 0)
    group(3, 6, 12, 0, ["VBAR_EL3", "RVBAR_EL3", "RMR_EL3"])
    group(3, 6, 12, 12, [None, None, None, None, "ICC_CTLR_EL3", "ICC_SRE_EL3", None, "ICC_IGRPEN1_EL3"])
    group(3, 6, 13, 0, [None, None, "TPIDR_EL3", None, None, None, None, "SCXTNUM_EL3"])
    group(3, 7, 14, 2, ["CNTPS_TVAL_EL1", "CNTPS_CTL_EL1", "CNTPS_CVAL_EL1"])

    # ------------------------------------------------------------------ debug (op0=2)
    add("OSDTRRX_EL1", 2, 0, 0, 0, 2)
    add("MDCCINT_EL1", 2, 0, 0, 2, 0)
    add("MDSCR_EL1", 2, 0, 0, 2, 2)
    add("OSDTRTX_EL1", 2, 0, 0, 3, 2)
    add("OSECCR_EL1", 2, 0, 0, 6, 2)
    for n in range(16):
        add(f"DBGBVR{n}_EL1", 2, 0, 0, n, 4)
        add(f"DBGBCR{n}_EL1", 2, 0, 0, n, 5)
        add(f"DBGWVR{n}_EL1", 2, 0, 0, n, 6)
        add(f"DBGWCR{n}_EL1", 2, 0, 0, n, 7)
    add("MDRAR_EL1", 2, 0, 1, 0, 0)
    add("OSLAR_EL1", 2, 0, 1, 0, 4)
    add("OSLSR_EL1", 2, 0, 1, 1, 4)
    add("OSDLR_EL1", 2, 0, 1, 3, 4)
    add("DBGPRCR_EL1", 2, 0, 1, 4, 4)
    add("DBGCLAIMSET_EL1", 2, 0, 7, 8, 6)
    add("DBGCLAIMCLR_EL1", 2, 0, 7, 9, 6)
    add("DBGAUTHSTATUS_EL1", 2, 0, 7, 14, 6)
    add("MDCCSR_EL0", 2, 3, 0, 1, 0)
    add("DBGDTR_EL0", 2, 3, 0, 4, 0)
    add(("DBGDTRRX_EL0", "DBGDTRTX_EL0"), 2, 3, 0, 5, 0)
    add("DBGVCR32_EL2", 2, 4, 0, 7, 0)
    group(2, 1, 9, 0, ["BRBCR_EL1", "BRBFCR_EL1", "BRBTS_EL1"])
    group(2, 1, 9, 1, ["BRBINFINJ_EL1", "BRBSRCINJ_EL1", "BRBTGTINJ_EL1"])
    add("BRBIDR0_EL1", 2, 1, 9, 2, 0)
    add("BRBCR_EL2", 2, 4, 9, 0, 0)
    add("BRBCR_EL12", 2, 5, 9, 0, 0)
    add("MDSELR_EL1", 2, 0, 0, 4, 2)
    add("MDSTEPOP_EL1", 2, 0, 0, 5, 2)

    # ------------------------------------------------------------------ System instructions (op0=1)
    add("IC IALLUIS", 1, 0, 7, 1, 0)
    add("IC IALLU", 1, 0, 7, 5, 0)
    add("IC IVAU", 1, 3, 7, 5, 1)
    group(1, 0, 7, 6, [None, "DC IVAC", "DC ISW", "DC IGVAC", "DC IGSW", "DC IGDVAC", "DC IGDSW"])
    group(1, 0, 7, 10, [None, None, "DC CSW", None, "DC CGSW", None, "DC CGDSW"])
    group(1, 0, 7, 14, [None, None, "DC CISW", None, "DC CIGSW", None, "DC CIGDSW"])
    group(1, 3, 7, 4, [None, "DC ZVA", None, "DC GVA", "DC GZVA"])
    group(1, 3, 7, 10, [None, "DC CVAC", None, "DC CGVAC", None, "DC CGDVAC"])
    add("DC CVAU", 1, 3, 7, 11, 1)
    group(1, 3, 7, 12, [None, "DC CVAP", None, "DC CGVAP", None, "DC CGDVAP"])
    group(1, 3, 7, 13, [None, "DC CVADP", None, "DC CGVADP", None, "DC CGDVADP"])
    group(1, 3, 7, 14, [None, "DC CIVAC", None, "DC CIGVAC", None, "DC CIGDVAC"])
    group(1, 3, 7, 3, [None, None, None, None, "CFP RCTX", "DVP RCTX", "COSP RCTX", "CPP RCTX"])
    group(1, 3, 7, 7, ["GCSPUSHM", "GCSPOPM", "GCSSS1", "GCSSS2"])
    group(1, 0, 7, 7, [None, None, None, None, "GCSPUSHX", "GCSPOPCX", "GCSPOPX"])
    # AT (fact sheet section 8.2)
    group(1, 0, 7, 8, ["AT S1E1R", "AT S1E1W", "AT S1E0R", "AT S1E0W"])
    group(1, 0, 7, 9, ["AT S1E1RP", "AT S1E1WP", "AT S1E1A"])
    group(1, 4, 7, 8, ["AT S1E2R", "AT S1E2W", None, None, "AT S12E1R", "AT S12E1W", "AT S12E0R", "AT S12E0W"])
    add("AT S1E2A", 1, 4, 7, 9, 2)
    group(1, 6, 7, 8, ["AT S1E3R", "AT S1E3W"])
    add("AT S1E3A", 1, 6, 7, 9, 2)
    # TLBI, CRn=8; the nXS forms (FEAT_XS) are the same with CRn=9
    tlbi: list[tuple[str, int, int, int]] = []
    el1 = ["VMALLE1{s}", "VAE1{s}", "ASIDE1{s}", "VAAE1{s}", None, "VALE1{s}", None, "VAALE1{s}"]
    el1r = [None, "RVAE1{s}", None, "RVAAE1{s}", None, "RVALE1{s}", None, "RVAALE1{s}"]
    for crm, sfx, names in ((1, "OS", el1), (3, "IS", el1), (7, "", el1),
                            (2, "IS", el1r), (5, "OS", el1r), (6, "", el1r)):
        tlbi += [(n.format(s=sfx), 0, crm, op2) for op2, n in enumerate(names) if n]
    el2 = ["ALLE2{s}", "VAE2{s}", None, None, "ALLE1{s}", "VALE2{s}", "VMALLS12E1{s}"]
    el2r = [None, "RVAE2{s}", None, None, None, "RVALE2{s}"]
    for crm, sfx, names in ((1, "OS", el2), (3, "IS", el2), (7, "", el2),
                            (2, "IS", el2r), (5, "OS", el2r), (6, "", el2r)):
        tlbi += [(n.format(s=sfx), 4, crm, op2) for op2, n in enumerate(names) if n]
    tlbi += [(n, 4, 0, op2) for op2, n in ((1, "IPAS2E1IS"), (2, "RIPAS2E1IS"), (5, "IPAS2LE1IS"), (6, "RIPAS2LE1IS"))]
    tlbi += [(n, 4, 4, op2) for op2, n in enumerate(["IPAS2E1OS", "IPAS2E1", "RIPAS2E1", "RIPAS2E1OS",
                                                     "IPAS2LE1OS", "IPAS2LE1", "RIPAS2LE1", "RIPAS2LE1OS"])]
    el3 = ["ALLE3{s}", "VAE3{s}", None, None, None, "VALE3{s}"]
    el3r = [None, "RVAE3{s}", None, None, None, "RVALE3{s}"]
    for crm, sfx, names in ((1, "OS", el3), (3, "IS", el3), (7, "", el3),
                            (2, "IS", el3r), (5, "OS", el3r), (6, "", el3r)):
        tlbi += [(n.format(s=sfx), 6, crm, op2) for op2, n in enumerate(names) if n]
    for name, op1, crm, op2 in tlbi:
        add(f"TLBI {name}", 1, op1, 8, crm, op2)
        add(f"TLBI {name}NXS", 1, op1, 9, crm, op2)
    return t


#: (op0, op1, CRn, CRm, op2) -> name, or (read name, write name)
SYSREGS: dict[Key, str | tuple[str, str]] = _build()

_BY_NAME: dict[str, Key] | None = None


def sysreg_name(op0: int, op1: int, crn: int, crm: int, op2: int, read: bool | None = None) -> str | None:
    """The architectural name of an encoding, or ``None`` if pgwalk does not know it.

    ``read`` picks between read and write names where they differ
    (``DBGDTRRX_EL0`` / ``DBGDTRTX_EL0``); ``None`` gives both, "a/b".
    """
    name = SYSREGS.get((op0, op1, crn, crm, op2))
    if isinstance(name, tuple):
        if read is None:
            return "/".join(name)
        return name[0] if read else name[1]
    if name is None and op0 == 3 and crn in (11, 15):
        return f"S{op0}_{op1}_C{crn}_C{crm}_{op2} (IMPLEMENTATION DEFINED)"
    return name


def sysreg_encoding(name: str) -> Key | None:
    """Reverse lookup: ``"TTBR0_EL1"`` -> ``(3, 0, 2, 0, 0)``."""
    global _BY_NAME
    if _BY_NAME is None:
        _BY_NAME = {}
        for key, n in SYSREGS.items():
            for one in (n if isinstance(n, tuple) else (n,)):
                _BY_NAME[one.upper()] = key
    return _BY_NAME.get(name.upper())


def format_encoding(op0: int, op1: int, crn: int, crm: int, op2: int) -> str:
    """The generic assembler spelling, ``S3_0_C2_C0_0``."""
    return f"S{op0}_{op1}_C{crn}_C{crm}_{op2}"
