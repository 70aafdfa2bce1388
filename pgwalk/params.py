"""Registers -> walk parameters (Arm ARM DDI 0487 M.a.a, ASL ``S1TTWParams*``,
``NSS2TTWParams``, ``S1StartLevel``, ``S2StartLevel``, ``S1TTBaseAddress``).

Everything that depends only on the registers is decided here, once: the
regime, which features the PE has, each VA range's granule, sizes, start
level and table base, and every configuration fault the architecture raises
before a table is read (TxSZ out of range, a stage 2 start level that is
invalid or inconsistent, a base address beyond the output size).  The walker
(:mod:`pgwalk.walk`) then only loops.

Where the architecture leaves a choice (IMPLEMENTATION DEFINED or CONSTRAINED
UNPREDICTABLE) pgwalk takes QEMU's and records a note saying so.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from .errors import RegisterError
from .formats import registers as R
from .records import field, record

__all__ = [
    "Regime", "Features", "S1WalkParams", "S2WalkParams", "TranslationSetup", "S1PermParams", "S2PermParams",
    "setup_from_registers", "s1_start_level", "s2_start_level", "physical_address_size",
    "block_desc_supported", "granule_name", "oa_out_of_range", "descsize_log2", "d128_enabled",
]

FINAL_LEVEL = 3


class Regime(enum.Enum):
    """Translation regimes (ASL ``Regime``)."""

    EL10 = "EL1&0"
    EL20 = "EL2&0"
    EL2 = "EL2"
    EL3 = "EL3"

    @property
    def has_unprivileged(self) -> bool:
        """ASL ``HasUnprivileged``: two VA ranges, AP[1], nG, UXN/PXN, PAN."""
        return self is _EL10 or self is _EL20


# the members as module constants: looking a member up on its Enum class is slow (Python 3.11),
# and the walks ask has_unprivileged per address
_EL10, _EL20 = Regime.EL10, Regime.EL20


def granule_name(granule_shift: int) -> str:
    return {12: "4KB", 14: "16KB", 16: "64KB"}[granule_shift]


@record(frozen=True, slots=True)
class Features:
    """What the PE implements, from ID_AA64MMFR{0,1,2}_EL1.

    Registers that are absent are assumed to describe the most capable PE
    (PARange 52 bits, FEAT_LPA2, FEAT_TTST, ...); :attr:`assumed` lists what
    was assumed so the output can say so.
    """

    pa_max: int = 52
    lpa: bool = True           # FEAT_LPA: 52-bit PA with 64KB granules
    lpa2_s1_4k: bool = True    # FEAT_LPA2 (TGran4 == 0b0001)
    lpa2_s1_16k: bool = True   # FEAT_LPA2 (TGran16 == 0b0010)
    lpa2_s2_4k: bool = True    # TGran4_2 == 0b0011
    lpa2_s2_16k: bool = True   # TGran16_2 == 0b0011
    lva: bool = True           # FEAT_LVA: 52-bit VA with 64KB granules
    lva3: bool = True          # FEAT_LVA3: 56-bit VA with D128 (ID_AA64MMFR2_EL1.VARange = 0b0010)
    ttst: bool = True          # FEAT_TTST: small translation tables
    hpds: bool = True          # FEAT_HPDS
    pan: int = 3               # ID_AA64MMFR1_EL1.PAN (3: FEAT_PAN3 / EPAN)
    xnx: bool = True           # FEAT_XNX: stage 2 XN[0]
    hafdbs: int = 2            # 1: AF, 2: AF and dirty
    xs: bool = False           # FEAT_XS (ID_AA64ISAR1_EL1.XS); off unless the register says so
    s2fwb: bool = True         # FEAT_S2FWB (ID_AA64MMFR2_EL1.FWB): HCR_EL2.FWB is RES0 without it
    # ID_AA64MMFR3_EL1 (and ID_AA64PFR1_EL1.GCS): absent, a feature whose enable a register sets is
    # assumed implemented (its enable reads back 1 only if it is) and the setup notes it
    tcr2: bool = True          # FEAT_TCR2
    s1pie: bool = True         # FEAT_S1PIE
    s2pie: bool = True         # FEAT_S2PIE
    s1poe: bool = True         # FEAT_S1POE
    s2poe: bool = True         # FEAT_S2POE
    aie: bool = True           # FEAT_AIE
    d128: bool = True          # FEAT_D128
    gcs: bool = True           # FEAT_GCS
    the: bool = True           # FEAT_THE (ID_AA64PFR1_EL1.THE)
    mmfr3_known: bool = False  # ID_AA64MMFR3_EL1 was given
    assumed: tuple[str, ...] = ()

    @property
    def lpa2(self) -> bool:
        return self.lpa2_s1_4k or self.lpa2_s1_16k

    @classmethod
    def from_registers(cls, regs: Mapping[str, int]) -> "Features":
        assumed = []
        kw: dict = {}
        mmfr0 = regs.get("ID_AA64MMFR0_EL1")
        if mmfr0 is None:
            assumed.append("ID_AA64MMFR0_EL1 not given: assuming PARange 52 bits and FEAT_LPA2")
        else:
            f = R.ID_AA64MMFR0_EL1.decode(mmfr0)
            parange = f["PARange"]
            kw["pa_max"] = R.PS_BITS.get(parange, 52) if parange <= 7 else 52   # 0b0111: 56 bits (FEAT_D128)
            kw["lpa"] = parange == 6
            kw["lpa2_s1_4k"] = f["TGran4"] == 0b0001
            kw["lpa2_s1_16k"] = f["TGran16"] == 0b0010
            # TGranX_2 == 0 means "as TGranX" (stage 2 support is identified in the stage 1 field)
            kw["lpa2_s2_4k"] = f["TGran4_2"] == 0b0011 or (f["TGran4_2"] == 0 and f["TGran4"] == 0b0001)
            kw["lpa2_s2_16k"] = f["TGran16_2"] == 0b0011 or (f["TGran16_2"] == 0 and f["TGran16"] == 0b0010)
        mmfr1 = regs.get("ID_AA64MMFR1_EL1")
        if mmfr1 is not None:
            f = R.ID_AA64MMFR1_EL1.decode(mmfr1)
            kw.update(hpds=f["HPDS"] >= 1, pan=f["PAN"], xnx=f["XNX"] >= 1, hafdbs=f["HAFDBS"])
        mmfr2 = regs.get("ID_AA64MMFR2_EL1")
        if mmfr2 is not None:
            f = R.ID_AA64MMFR2_EL1.decode(mmfr2)
            kw.update(lva=f["VARange"] in (1, 2), lva3=f["VARange"] == 2, ttst=f["ST"] == 1, s2fwb=f["FWB"] >= 1)
        if mmfr0 is not None and (mmfr1 is None or mmfr2 is None):
            assumed.append("ID_AA64MMFR1/2_EL1 not given: assuming FEAT_HPDS, FEAT_PAN3, FEAT_XNX, FEAT_LVA, FEAT_TTST")
        mmfr3 = regs.get("ID_AA64MMFR3_EL1")
        if mmfr3 is not None:
            f = R.ID_AA64MMFR3_EL1.decode(mmfr3)
            kw.update(tcr2=f["TCRX"] >= 1, s1pie=f["S1PIE"] >= 1, s2pie=f["S2PIE"] >= 1, s1poe=f["S1POE"] >= 1,
                      s2poe=f["S2POE"] >= 1, aie=f["AIE"] >= 1, d128=f["D128"] >= 1, mmfr3_known=True)
        pfr1 = regs.get("ID_AA64PFR1_EL1")
        if pfr1 is not None:
            kw["gcs"] = R.ID_AA64PFR1_EL1["GCS"].get(pfr1) >= 1
            kw["the"] = R.ID_AA64PFR1_EL1["THE"].get(pfr1) >= 1
        isar1 = regs.get("ID_AA64ISAR1_EL1")
        if isar1 is not None:
            kw["xs"] = R.ID_AA64ISAR1_EL1["XS"].get(isar1) >= 1
        if "lpa2_s1_4k" in kw and (kw["lpa2_s1_4k"] or kw["lpa2_s1_16k"]) and mmfr2 is None:
            kw["lva"] = True  # FEAT_LPA2 implies FEAT_LVA
        return cls(assumed=tuple(assumed), **kw)


def physical_address_size(ps: int, granule_shift: int, ds: bool, features: Features, d128: bool = False) -> int:
    """ASL ``AArch64.PhysicalAddressSize``: the effective output size in bits.

    4KB/16KB granules without DS never exceed 48 bits; {I}PS above PAMax is
    PAMax (R_CLPQT).  With 128-bit descriptors (``d128``) the limit is PAMax
    itself (up to 56 bits, {I}PS = 0b111).
    """
    size = R.PS_BITS[ps]
    if d128:
        max_ps = features.pa_max
    elif features.lpa and (granule_shift == 16 or ds):
        max_ps = min(52, features.pa_max)
    else:
        max_ps = min(48, features.pa_max)
    return min(size, max_ps)


def oa_out_of_range(address, oa_bits: int):
    """ASL ``AArch64.OAOutOfRange``: ``address<55:oasize>`` is not zero.

    The one statement of the output-address size check, for a table base (TTBR),
    a descriptor or next-level table address, and a stage's *final* output address
    (``StageOA``: the leaf base with the input address bits below the block or page
    size, so a block larger than ``2**oa_bits`` bytes faults on its upper part even
    when its base is in range).  ``address`` is an int, or a numpy uint64 array (the
    vectorised walker): the result is then a bool array.
    """
    return (address >> oa_bits) != 0


def descsize_log2(d128: bool) -> int:
    """ASL ``descsizelog2``: log2 of a descriptor's bytes, 4 for VMSAv9-128 (``walkparams.d128``), else 3;
    a level resolves ``granule_shift - descsize_log2`` input-address bits (the stride)."""
    return 4 if d128 else 3


def s1_start_level(iasize: int, granule_shift: int, d128: bool = False, skl: int = 0) -> int:
    """ASL ``AArch64.S1StartLevel`` (and, with D128, ``AArch64.S2StartLevel``):
    ``3 - ((iasize - 1 - g) DIV stride)``, plus TTBR.SKL with 128-bit descriptors (levels skipped;
    a start level above 3 is a level 0 Translation fault, ASL ``AArch64.S1Walk``)."""
    stride = granule_shift - descsize_log2(d128)
    return FINAL_LEVEL - (iasize - 1 - granule_shift) // stride + (skl if d128 else 0)


def s2_start_level(granule_shift: int, sl0: int, sl2: int) -> int | None:
    """ASL ``AArch64.S2StartLevel``; ``None`` for a reserved encoding."""
    if granule_shift == 12:
        return {0b000: 2, 0b001: 1, 0b010: 0, 0b011: 3, 0b100: -1}.get((sl2 << 2) | sl0)
    if granule_shift == 14:
        return {0b00: 3, 0b01: 2, 0b10: 1, 0b11: 0}[sl0]
    return {0b00: 3, 0b01: 2, 0b10: 1}.get(sl0)


def block_desc_supported(ds: bool, granule_shift: int, level: int, pa_max: int, d128: bool = False) -> bool:
    """ASL ``AArch64.BlockDescSupported``: the levels a block may be at (with D128 the 4KB level 0,
    16KB and 64KB level 1 blocks are always allowed)."""
    if granule_shift == 12:
        return level in (1, 2) or (level == 0 and (ds or d128))
    if granule_shift == 14:
        return level == 2 or (level == 1 and (ds or d128))
    return level == 2 or (level == 1 and (d128 or pa_max >= 52))


def _table_base(ttbr: int, iasize: int, start_level: int, granule_shift: int, fmt52: bool, d128: bool = False,
                el3: bool = False) -> int:
    """ASL ``S1TTBaseAddress``/``S2TTBaseAddress``: BADDR aligned to the initial table size; with
    D128 the 128-bit TTBR's BADDR[55:48]:BADDR[47:5] (TTBR0_EL3: BADDR[55:5]), at least 32-byte aligned."""
    size_log2 = descsize_log2(d128)
    stride = granule_shift - size_log2
    tsize = iasize - ((FINAL_LEVEL - start_level) * stride + granule_shift) + size_log2
    if d128:
        tsize = max(tsize, 5)
        if el3:
            base = R.TTBR_EL3_128["BADDR"].get(ttbr) << 5
        else:
            base = (R.TTBR_128["BADDR_55_48"].get(ttbr) << 48) | (R.TTBR_128["BADDR"].get(ttbr) << 5)
    elif fmt52:
        tsize = max(tsize, 6)
        base = (R.TTBR_52["BADDR_51_48"].get(ttbr) << 48) | (R.TTBR_52["BADDR"].get(ttbr) << 6)
    else:
        base = R.TTBR["BADDR"].get(ttbr) << 1
    return base & ~((1 << tsize) - 1)


@record(frozen=True, slots=True)
class S1PermParams:
    """What the stage 1 permission rules read besides the descriptor (ASL ``S1TTWParams`` .pie,
    .pir, .pire0 and ``AArch64.S1POEnabled``/``S1E0POEnabled``/``S1POR``): permission
    indirection (FEAT_S1PIE) and overlays (FEAT_S1POE).  A register value ``None`` was not
    given: the permissions it decides are unknown, never guessed.  Hashable, so permission
    tables built from it are cached (:func:`pgwalk.rules.s1_permission_table`)."""

    pie: bool = False
    pir: int | None = 0
    pire0: int | None = 0
    poe: bool = False           # privileged overlay: TCR2_ELx.POE (POR_EL1 / POR_EL2)
    e0poe: bool = False         # EL0 overlay: TCR2_ELx.E0POE (POR_EL0)
    por: int | None = 0
    por_e0: int | None = 0
    pir_name: str = "PIR_EL1"
    pire0_name: str = "PIRE0_EL1"
    por_name: str = "POR_EL1"

    @property
    def overlay(self) -> bool:
        """An overlay applies to some EL: the permission code carries POIndex."""
        return self.poe or self.e0poe


@record(frozen=True, slots=True)
class S2PermParams:
    """What the stage 2 permission rules read besides the descriptor (ASL ``S2TTWParams`` .s2pie,
    .s2pir and ``VTCR_EL2.S2POE``): FEAT_S2PIE and FEAT_S2POE; ``None``: not given (unknown)."""

    s2pie: bool = False
    s2pir: int | None = 0
    s2poe: bool = False
    s2por: int | None = 0
    #: FEAT_THE: VTCR_EL2.AssuredOnly (ASL ``S2TTWParams.assuredonly``: desc[58] is AssuredOnly);
    #: FEAT_GCS: VTCR_EL2.GCSH (GCS accesses need an AssuredOnly page)
    assuredonly: bool = False
    gcsh: bool = False
    #: FEAT_THE: VTCR_EL2.TL0 / TL1 (ASL ``S2TTWParams.tl0/tl1``): the top-level stage 1 table of a
    #: TTBR0 / TTBR1 walk must be fetched from a stage 2 page with the TopLevel0 / TopLevel1 attribute
    tl0: bool = False
    tl1: bool = False


@record(frozen=True, slots=True)
class S1WalkParams:
    """Stage 1 walk parameters for one VA range (ASL ``S1TTWParams``).

    ``config_fault`` is the reason for a level 0 Translation fault that every
    address in this range takes (TxSZ out of bounds), or ``""``;
    ``base_fault`` is set when the table base is beyond the output size (a
    level 0 Address size fault, whatever the start level).
    """

    regime: Regime
    varange: int              # 0: TTBR0 (lower), 1: TTBR1 (upper)
    ttbr_name: str
    ttbr: int
    granule_shift: int
    txsz: int
    iasize: int
    start_level: int
    tbi: bool
    tbid: bool
    epd: bool
    e0pd: bool
    hpd: bool
    ha: bool
    hd: bool
    ds: bool
    ps: int
    oa_bits: int
    sh: int
    irgn: int
    orgn: int
    ee: bool
    lpa64: bool               # 64KB granule, descriptor bits[15:12] are OA[51:48]
    base: int
    base_fault: bool
    config_fault: str = ""
    notes: tuple[str, ...] = ()
    ttbr_known: bool = True   # False: the TTBR was not given (unknown, not zero)
    perm: S1PermParams = S1PermParams()   # FEAT_S1PIE / FEAT_S1POE (off: direct permissions)
    aie: bool = False         # TCR2_ELx.AIE (FEAT_AIE): AttrIndx[3] selects MAIR2_ELx
    haft: bool = False        # TCR2_ELx.HAFT (FEAT_HAFT): hardware AF on table descriptors
    pnch: bool = False        # TCR2_ELx.PnCH (FEAT_THE): descriptor bit 52 is Protected
    d128: bool = False        # TCR2_ELx.D128 / TCR_EL3.D128 (FEAT_D128): 128-bit descriptors, VMSAv9-128
    skl: int = 0              # TTBRn_ELx.SKL (D128): levels skipped at the start of the walk
    fng: bool = False         # TCR2_ELx.FNGn (FEAT_ASID2): the range's translations are non-global
    fngna: bool = False       # TCR2_EL1.FNGNAn (FEAT_THE): non-global unless Assured (EL1&0 only)

    @property
    def pie(self) -> bool:
        return self.perm.pie

    @property
    def stride(self) -> int:
        return self.granule_shift - descsize_log2(self.d128)

    @property
    def has_unprivileged(self) -> bool:
        return self.regime.has_unprivileged


@record(frozen=True, slots=True)
class S2WalkParams:
    """Stage 2 walk parameters (ASL ``S2TTWParams``, ``NSS2TTWParams``)."""

    vttbr: int
    granule_shift: int
    txsz: int
    iasize: int
    sl0: int
    sl2: int
    start_level: int | None
    ds: bool
    ps: int
    oa_bits: int
    ha: bool
    hd: bool
    sh: int
    ee: bool
    fwb: bool
    ptw: bool
    cd: bool
    lpa64: bool
    base: int
    base_fault: bool
    config_fault: str = ""
    notes: tuple[str, ...] = ()
    perm: S2PermParams = S2PermParams()   # FEAT_S2PIE / FEAT_S2POE (off: direct permissions)
    haft: bool = False        # VTCR_EL2.HAFT (FEAT_HAFT): hardware AF on stage 2 table descriptors
    d128: bool = False        # VTCR_EL2.D128 (FEAT_D128): 128-bit descriptors, VMSAv9-128
    skl: int = 0              # VTTBR_EL2.SKL (D128): levels skipped at the start of the walk

    @property
    def stride(self) -> int:
        return self.granule_shift - descsize_log2(self.d128)

    @property
    def concatenated(self) -> int:
        """Number of concatenated initial-level tables (1 when none)."""
        if self.start_level is None or self.d128:
            return 1
        bits = self.iasize - ((FINAL_LEVEL - self.start_level) * self.stride + self.granule_shift)
        return max(1, 1 << max(0, bits - self.stride))


@record(frozen=True)
class TranslationSetup:
    """Everything a walk needs that comes from the registers, decided once."""

    regime: Regime
    features: Features
    s1_enabled: bool
    ranges: tuple[S1WalkParams, ...]          # one per VA range
    s2: S2WalkParams | None                   # stage 2 when enabled for this regime
    mair: int
    wxn: bool
    epan: bool
    s1_ee: bool
    dc: bool                                  # HCR_EL2.DC: stage 1 off, Normal WB
    pan: bool                                 # PSTATE.PAN from the registers (PSTATE/CPSR), if given
    registers: Mapping[str, int] = field(repr=False, default_factory=dict)
    notes: tuple[str, ...] = ()
    mair_known: bool = True                   # False: MAIR_ELx not given, stage 1 attributes unknown
    mair2: int | None = 0                     # MAIR2_ELx (FEAT_AIE); None: AIE on and not given (unknown)

    @property
    def d128_controls(self) -> tuple[str, ...]:
        """The register fields that make a stage this setup walks use VMSAv9-128 (FEAT_D128) tables
        (``"TCR2_EL1.D128"``, ``"VTCR_EL2.D128"``...); empty: every stage is VMSAv8-64."""
        on = []
        if self.s1_enabled and any(p.d128 for p in self.ranges):
            on.append("TCR_EL3.D128" if self.regime is Regime.EL3 else
                      f"TCR2_{'EL1' if self.regime is Regime.EL10 else 'EL2'}.D128")
        if self.s2 is not None and self.s2.d128:
            on.append("VTCR_EL2.D128")
        return tuple(on)

    def refuse_d128(self, what: str) -> None:
        """Refuse a path that does not walk VMSAv9-128 (FEAT_D128) tables, in one clear line.

        :raises RegisterError: when a stage this setup walks uses 128-bit descriptors
        """
        on = self.d128_controls
        if on:
            raise RegisterError(f"{' and '.join(on)} = 1: {what} does not walk VMSAv9-128 (128-bit descriptor, "
                                "FEAT_D128) tables; translate and at (one address at a time) do")

    def s1_params(self, va: int) -> S1WalkParams:
        """ASL ``AArch64.GetVARange``: VA bit 55 selects the range (whatever TBI is)."""
        if len(self.ranges) == 2 and (va >> 55) & 1:
            return self.ranges[1]
        return self.ranges[0]


def _reg(regs: Mapping[str, int], name: str, default: int = 0) -> int:
    return regs.get(name, default)


def _s1_range_params(regime: Regime, varange: int, regs: Mapping[str, int], features: Features,
                     el: str, e2h: bool) -> S1WalkParams:
    """ASL ``S1TTWParamsEL10/EL20/EL2/EL3`` for one VA range."""
    notes: list[str] = []
    two_el_layout = regime in (Regime.EL10, Regime.EL20)
    tcr_name = f"TCR_{el}"
    tcr = _reg(regs, tcr_name)
    sctlr = _reg(regs, f"SCTLR_{el}")
    ttbr_name = f"TTBR{varange}_{el}"
    ttbr = _reg(regs, ttbr_name)
    if two_el_layout:
        t = R.TCR_EL1.decode(tcr)
        n = str(varange)
        if varange == 0:
            tg = t["TG0"]
            granule = R.TG0_GRANULE.get(tg)
            if granule is None:
                granule = 12
                notes.append(f"{tcr_name}.TG0 = 0b11 is reserved: using 4KB, as QEMU does")
        else:
            tg = t["TG1"]
            granule = R.TG1_GRANULE.get(tg)
            if granule is None:
                granule = 12
                notes.append(f"{tcr_name}.TG1 = 0b00 is reserved: using 4KB, as QEMU does")
        txsz = t[f"T{n}SZ"]
        tbi, tbid = bool(t[f"TBI{n}"]), bool(t[f"TBID{n}"])
        epd, e0pd = bool(t[f"EPD{n}"]), bool(t[f"E0PD{n}"])
        hpd = bool(t[f"HPD{n}"]) and features.hpds
        sh, irgn, orgn = t[f"SH{n}"], t[f"IRGN{n}"], t[f"ORGN{n}"]
        ps = t["IPS"]
        ha, hd, ds = bool(t["HA"]), bool(t["HD"]), bool(t["DS"])
    else:
        layout = R.TCR_EL3 if regime is Regime.EL3 else R.TCR_EL2_E2H0
        t = layout.decode(tcr)
        granule = R.TG0_GRANULE.get(t["TG0"])
        if granule is None:
            granule = 12
            notes.append(f"{tcr_name}.TG0 = 0b11 is reserved: using 4KB, as QEMU does")
        txsz = t["T0SZ"]
        tbi, tbid = bool(t["TBI"]), bool(t["TBID"])
        epd = e0pd = False
        hpd = bool(t["HPD"]) and features.hpds
        sh, irgn, orgn = t["SH0"], t["IRGN0"], t["ORGN0"]
        ps = t["PS"]
        ha, hd, ds = bool(t["HA"]), bool(t["HD"]), bool(t["DS"])
    d128 = d128_enabled(regime, regs, features)
    # Effective DS: FEAT_LPA2 with a 4KB or 16KB granule (ASL S1TTWParams*); with D128 the
    # descriptor formats do not read it (ASL NextTableBase, S1LeafBase: d128 first)
    lpa2 = features.lpa2_s1_4k if granule == 12 else features.lpa2_s1_16k if granule == 14 else False
    if d128 and ds:
        notes.append(f"{tcr_name}.DS = 1 has no effect on VMSAv9-128 descriptors (D128): ignored")
    ds = ds and lpa2 and not d128
    ha = ha and features.hafdbs >= 1
    hd = hd and ha and features.hafdbs >= 2   # HD behaves as 0 when HA is 0
    oa_bits = physical_address_size(ps, granule, ds, features, d128)
    lpa64 = granule == 16 and features.pa_max >= 52 and not d128
    perm, aie, haft, pnch, fng, fngna = _s1_tcr2_params(regime, regs, features, el, ha, notes, d128, varange)
    if perm.pie or aie or perm.overlay:
        hpd = True      # ASL S1TTWParams*: PIE, AIE or an enabled overlay disable hierarchical permissions
    skl = 0
    if d128:
        layout = R.TTBR_EL3_128 if regime is Regime.EL3 else R.TTBR_128
        skl = layout["SKL"].get(ttbr)
        notes.append(f"{'TCR_EL3' if regime is Regime.EL3 else 'TCR2_' + el}.D128 = 1: VMSAv9-128 tables (128-bit "
                     "descriptors); not modelled: the IMPLEMENTATION DEFINED nT (FEAT_BBML1) and misprogrammed "
                     "Contiguous faults, DisCH (the Contiguous hint shown is the descriptor's), FEAT_THE Assured "
                     "walks (taken as not Assured)")
    # TxSZ limits (ASL S1MinTxSZ, MaxTxSZ, S1TxSZFaults); QEMU always faults
    if d128:
        mintxsz = (9 if two_el_layout else 8) if features.lva3 else 12 if features.lva else 16
        if "ID_AA64MMFR2_EL1" not in regs:
            notes.append(f"ID_AA64MMFR2_EL1 not given: assuming FEAT_LVA3 (with D128 T{varange}SZ down to {mintxsz})")
    else:
        mintxsz = 12 if ((granule == 16 and features.lva) or ds) else 16
    maxtxsz = (47 if granule == 16 else 48) if features.ttst else 39
    config_fault = ""
    if txsz < mintxsz:
        config_fault = f"T{varange}SZ = {txsz} is below the minimum {mintxsz}"
    elif txsz > maxtxsz:
        config_fault = f"T{varange}SZ = {txsz} is above the maximum {maxtxsz} (IMPLEMENTATION DEFINED: fault, as QEMU)"
    eff_txsz = min(max(txsz, mintxsz), maxtxsz)
    iasize = 64 - eff_txsz
    start = s1_start_level(iasize, granule, d128, skl)
    if start > FINAL_LEVEL and not config_fault:
        # ASL AArch64.S1Walk: a start level above 3 is a level 0 Translation fault (RFYTMS)
        config_fault = f"{ttbr_name}.SKL = {skl} makes the start level {start}, beyond level 3"
    fmt52 = ds or (granule == 16 and ps == 0b110 and features.lpa and not d128)
    base = _table_base(ttbr, iasize, min(start, FINAL_LEVEL), granule, fmt52, d128, regime is Regime.EL3)
    base_fault = oa_out_of_range(base, oa_bits)
    return S1WalkParams(
        regime=regime, varange=varange, ttbr_name=ttbr_name, ttbr=ttbr, granule_shift=granule,
        txsz=txsz, iasize=iasize, start_level=start, tbi=tbi, tbid=tbid, epd=epd, e0pd=e0pd,
        hpd=hpd, ha=ha, hd=hd, ds=ds, ps=ps, oa_bits=oa_bits, sh=sh, irgn=irgn, orgn=orgn,
        ee=bool(R.SCTLR["EE"].get(sctlr)), lpa64=lpa64, base=base, base_fault=base_fault,
        config_fault=config_fault, notes=tuple(notes), ttbr_known=ttbr_name in regs,
        perm=perm, aie=aie, haft=haft, pnch=pnch, d128=d128, skl=skl, fng=fng, fngna=fngna)


def _fngna_note(p: S1WalkParams, s2: S2WalkParams | None) -> str:
    """What TCR2_EL1.FNGNAn = 1 does to VA range ``p`` (ASL ``AArch64.S1NextWalkStateLeaf``, applied by
    :func:`pgwalk.rules.s1_leaf_ng`)."""
    n = p.varange
    name = f"TCR2_EL1.FNGNA{n} = 1"
    if s2 is None:
        return f"{name} has no effect: stage 2 is off (HCR_EL2.VM = 0)"
    if not (p.pnch or p.d128):
        return f"{name} has no effect: neither TCR2_EL1.PnCH nor D128 is on"
    if (s2.perm.tl1 if n else s2.perm.tl0) and not p.d128:     # (D128 walks are taken as not Assured)
        return (f"{name} with VTCR_EL2.TL{n} = 1: a TTBR{n} walk that stays Assured keeps its descriptor's nG, "
                "one that loses the property (a table or leaf not Protected, a fetch from a page not "
                "MostlyReadOnly) is non-global; not modelled: pgwalk reports nG from the descriptor")
    why = "128-bit tables: taken as not Assured" if p.d128 else f"VTCR_EL2.TL{n} = 0"
    return f"{name}: TTBR{n} walks are not Assured ({why}), so their translations are non-global"


def d128_enabled(regime: Regime, regs: Mapping[str, int], features: Features) -> bool:
    """ASL ``AArch64.S1TTWParamsEL10/EL20/EL2/EL3``: ``walkparams.d128``, TCR2_ELx.D128 with FEAT_D128
    and TCR2_ELx in effect (:func:`tcr2_enabled`); TCR_EL3.D128 for EL3.  The EL2 regime (E2H = 0)
    has no VMSAv9-128 (ASL ``AArch64.isPARFormatD128``; TCR2_EL2.D128 is RES0 there)."""
    if not features.d128 or regime is Regime.EL2:
        return False
    if regime is Regime.EL3:
        return bool(R.TCR_EL3["D128"].get(regs.get("TCR_EL3", 0)))
    el = "EL1" if regime is Regime.EL10 else "EL2"
    tcr2 = regs.get(f"TCR2_{el}", 0)
    return bool(tcr2 and R.TCR2_EL1["D128"].get(tcr2) and tcr2_enabled(regime, regs, features)[0])



def tcr2_enabled(regime: Regime, regs: Mapping[str, int], features: Features) -> tuple[bool, str]:
    """ASL ``IsTCR2EL1Enabled`` / ``IsTCR2EL2Enabled``: whether the regime's TCR2_ELx is in effect
    (a disabled one reads as zero for the walk), and a note when that rests on an assumption.

    SCR_EL3.TCR2En = 0 disables both; at EL1&0 with EL2 in use (HCR_EL2 or HCRX_EL2 given) so
    does HCRX_EL2.TCR2En = 0.  Registers not given are assumed to enable it.
    """
    if not features.tcr2:
        return False, ""
    scr = regs.get("SCR_EL3")
    if scr is not None and not R.SCR_EL3["TCR2En"].get(scr):
        return False, ""
    if regime is Regime.EL3:
        return False, ""
    assumed = []
    if scr is None:
        assumed.append("SCR_EL3.TCR2En = 1")
    if regime is Regime.EL10 and ("HCR_EL2" in regs or "HCRX_EL2" in regs):
        hcrx = regs.get("HCRX_EL2")
        if hcrx is not None and not R.HCRX_EL2["TCR2En"].get(hcrx):
            return False, ""
        if hcrx is None:
            assumed.append("HCRX_EL2.TCR2En = 1")
    return True, ", ".join(assumed)


def _s1_tcr2_params(regime: Regime, regs: Mapping[str, int], features: Features, el: str, ha: bool,
                    notes: list[str], d128: bool = False, varange: int = 0
                    ) -> tuple[S1PermParams, bool, bool, bool, bool, bool]:
    """The TCR2_ELx part of ASL ``S1TTWParamsEL10/EL20/EL2`` (for EL3, ``S1TTWParamsEL3``: the
    same enables are TCR_EL3 bits, with PIR_EL3 and POR_EL3): PIE with PIR/PIRE0, the overlay
    enables with POR_ELx, AIE, HAFT, PnCH, and VA range ``varange``'s FNGn (FEAT_ASID2) and
    FNGNAn (FEAT_THE, EL1&0).  Notes say what was assumed and what is not modelled."""
    if regime is Regime.EL3:
        name = "TCR_EL3"
        t = R.TCR_EL3.decode(regs.get(name, 0))
    else:
        name = f"TCR2_{el}"
        tcr2 = regs.get(name, 0)
        if not tcr2:
            return S1PermParams(), False, False, False, False, False
        enabled, assumed = tcr2_enabled(regime, regs, features)
        if not enabled:
            why = ("the PE has no FEAT_TCR2" if not features.tcr2 else
                   "SCR_EL3.TCR2En = 0" if "SCR_EL3" in regs and not R.SCR_EL3["TCR2En"].get(regs["SCR_EL3"]) else
                   "HCRX_EL2.TCR2En = 0")
            notes.append(f"{name} = {tcr2:#x} is not in effect ({why}): read as 0")
            return S1PermParams(), False, False, False, False, False
        if assumed:
            notes.append(f"{name} = {tcr2:#x}: assuming {assumed} (not given)")
        t = (R.TCR2_EL1 if regime is Regime.EL10 else R.TCR2_EL2).decode(tcr2)
    two_ranges = regime.has_unprivileged
    e0poe_bit = t.get("E0POE", 0)
    if not features.mmfr3_known and t["PIE"] | t["POE"] | e0poe_bit | t["AIE"] | t["D128"]:
        notes.append(f"ID_AA64MMFR3_EL1 not given: assuming the features {name} enables are implemented")
    # ASL S1TTWParams*: with D128 permissions are always indirect (walkparams.pie = '1')
    pie = d128 or (bool(t["PIE"]) and features.s1pie)
    if d128 and not t["PIE"]:
        notes.append(f"{name}.D128 = 1: permission indirection is on whatever {name}.PIE says (ASL S1TTWParams)")
    poe = bool(t["POE"]) and features.s1poe
    e0poe = bool(e0poe_bit) and features.s1poe and two_ranges
    scr = regs.get("SCR_EL3")
    if (pie or poe or e0poe) and scr is not None and not R.SCR_EL3["PIEn"].get(scr) and regime is not Regime.EL3:
        notes.append("SCR_EL3.PIEn = 0: whether that forces PIR/POR to zero is IMPLEMENTATION DEFINED; "
                     "the registers are used as given")
    pir_name = f"PIR_{el}"
    pire0_name = "PIRE0_EL1" if regime is Regime.EL10 else "PIRE0_EL2"
    por_name = f"POR_{el}"
    perm = S1PermParams(
        pie=pie, pir=regs.get(pir_name) if pie else 0,
        pire0=(regs.get(pire0_name) if pie and two_ranges else 0),
        poe=poe, e0poe=e0poe, por=regs.get(por_name) if poe else 0, por_e0=regs.get("POR_EL0") if e0poe else 0,
        pir_name=pir_name, pire0_name=pire0_name, por_name=por_name)
    for flag, reg, value in ((pie, pir_name, perm.pir), (pie and two_ranges, pire0_name, perm.pire0),
                             (poe, por_name, perm.por), (e0poe, "POR_EL0", perm.por_e0)):
        if flag and value is None:
            notes.append(f"{name}.{'PIE' if 'PIR' in reg else 'POE' if reg != 'POR_EL0' else 'E0POE'} = 1 but "
                         f"{reg} was not given: stage 1 permissions are unknown")
    aie = bool(t["AIE"]) and features.aie
    haft = _effective_haft(bool(t["HAFT"]), ha, regs, features, name, notes)
    # ASL S1TTWParamsEL10/EL20/EL2/EL3: pnch = TCR2_ELx.PnCH (TCR_EL3.PnCH) with FEAT_THE (and not D128)
    pnch = bool(t["PnCH"]) and features.the and not d128
    if d128 and t["PnCH"]:
        notes.append(f"{name}.PnCH = 1 has no effect with D128: the ASL's S1TTWParamsEL10/EL20 read it only "
                     "when d128 = 0 (the EL2 regime has no D128); a 128-bit "
                     "descriptor's Protected bit is 114 and its Contiguous bit 111")
    if pnch:
        notes.append(f"{name}.PnCH = 1 (FEAT_THE): descriptor bit 52 is the Protected attribute, not the Contiguous "
                     "hint, which reads as 0 (ASL AArch64.S1NextWalkStateLeaf); Protected counts for the stage 2 "
                     "AssuredOnly check (the Assured property) and for RCWS instructions, which pgwalk does not run")
    elif t["PnCH"] and not d128:
        notes.append(f"{name}.PnCH = 1 has no effect: FEAT_THE is not implemented (bit 52 is Contiguous)")
    # ASL S1TTWParamsEL10/EL20: fng = TCR2_ELx.FNGn with FEAT_ASID2 (regimes with EL0); fngna =
    # TCR2_EL1.FNGNAn with FEAT_THE (EL1&0); AArch64.S1NextWalkStateLeaf applies them
    # (rules.s1_leaf_ng)
    fng = bool(t.get(f"FNG{varange}", 0)) and two_ranges and regime is not Regime.EL3
    if fng:
        notes.append(f"{name}.FNG{varange} = 1: TTBR{varange} translations are non-global whatever nG says "
                     "(assuming FEAT_ASID2: ID_AA64MMFR4_EL1 is not read)")
    fngna = bool(t.get(f"FNGNA{varange}", 0)) and features.the and regime is Regime.EL10
    return perm, aie, haft, pnch, fng, fngna


def _effective_haft(haft: bool, ha: bool, regs: Mapping[str, int], features: Features, name: str,
                    notes: list[str]) -> bool:
    """ASL ``AArch64.GetS1TTWParams`` / ``AArch64.NSS2TTWParams``: ``walkparams.haft`` is the
    register's HAFT (``name``: TCR2_ELx or VTCR_EL2) when FEAT_HAFT is implemented and the
    stage's HA is 1 (FEAT_HAFT: ID_AA64MMFR1_EL1.HAFDBS >= 0b0011; without the ID register,
    HAFT = 1 says it is); a note says why a HAFT = 1 has no effect."""
    effective = haft and ha and (features.hafdbs >= 3 or "ID_AA64MMFR1_EL1" not in regs)
    if haft and not effective:
        notes.append(f"{name}.HAFT = 1 has no effect: " + ("HA = 0" if not ha else "FEAT_HAFT is not implemented "
                                                            "(ID_AA64MMFR1_EL1.HAFDBS < 0b0011)"))
    return effective


def _s2_params(regs: Mapping[str, int], features: Features) -> S2WalkParams:
    """ASL ``NSS2TTWParams`` plus the configuration checks of ``S2Translate``."""
    notes: list[str] = []
    vtcr = _reg(regs, "VTCR_EL2")
    vttbr = _reg(regs, "VTTBR_EL2")
    hcr = _reg(regs, "HCR_EL2")
    t = R.VTCR_EL2.decode(vtcr)
    granule = R.TG0_GRANULE.get(t["TG0"])
    if granule is None:
        granule = 12
        notes.append("VTCR_EL2.TG0 = 0b11 is reserved: using 4KB, as QEMU does")
    lpa2 = features.lpa2_s2_4k if granule == 12 else features.lpa2_s2_16k if granule == 14 else False
    # ASL AArch64.NSS2TTWParams: d128 = VTCR_EL2.D128 (FEAT_D128); then skl = VTTBR_EL2.SKL and SL0/SL2 are RES0
    d128 = features.d128 and bool(t["D128"])
    ds = bool(t["DS"]) and lpa2 and not d128
    sl0 = t["SL0"] if not d128 else 0
    sl2 = t["SL2"] if ds else 0  # SL2 is effective only with DS (SAIL: sl2 = SL2 AND DS)
    skl = R.TTBR_128["SKL"].get(vttbr) if d128 else 0
    if d128:
        notes.append("VTCR_EL2.D128 = 1: VMSAv9-128 stage 2 tables (128-bit descriptors, S2PIE forced on, SL0/SL2 "
                     "RES0, start level from T0SZ and VTTBR_EL2.SKL); not modelled: the IMPLEMENTATION DEFINED nT "
                     "and misprogrammed Contiguous faults")
    ps = t["PS"]
    oa_bits = physical_address_size(ps, granule, ds, features, d128)
    txsz = t["T0SZ"]
    ha = bool(t["HA"]) and features.hafdbs >= 1
    hd = bool(t["HD"]) and ha and features.hafdbs >= 2
    # Configuration checks, each a stage 2 level 0 Translation fault (ASL S2Translate)
    if d128 and features.pa_max >= 56:
        ips = 56                                          # ASL AArch64.S2MinTxSZ
    elif features.pa_max >= 52 and (granule == 16 or ds):
        ips = 52
    else:
        ips = min(48, features.pa_max)
    mintxsz = 64 - ips
    maxtxsz = (47 if granule == 16 else 48) if features.ttst else 39
    config_fault = ""
    if txsz < mintxsz:
        config_fault = f"VTCR_EL2.T0SZ = {txsz} is below the minimum {mintxsz}"
    elif txsz > maxtxsz:
        config_fault = f"VTCR_EL2.T0SZ = {txsz} is above the maximum {maxtxsz} (IMPLEMENTATION DEFINED: fault, as QEMU)"
    eff_txsz = min(max(txsz, mintxsz), maxtxsz)
    iasize = 64 - eff_txsz
    start = s1_start_level(iasize, granule, True, skl) if d128 else s2_start_level(granule, sl0, sl2)
    if not config_fault and d128:
        # ASL AArch64.S2Translate checks SL only when d128 = 0; AArch64.S2Walk: a start level above 3 faults
        if start > FINAL_LEVEL:
            config_fault = f"VTTBR_EL2.SKL = {skl} makes the start level {start}, beyond level 3"
        elif iasize > oa_bits:
            config_fault = (f"IPA size {iasize} bits exceeds the output size {oa_bits} bits "
                            "(CONSTRAINED UNPREDICTABLE: fault, as QEMU)")
    elif not config_fault:
        reason = _s2_invalid_sl(granule, sl0, sl2, ds, features)
        if not reason and start is not None:
            reason = _s2_inconsistent_sl(iasize, granule, start)
        if not reason and iasize > oa_bits:
            # R_SRKBC-style CONSTRAINED UNPREDICTABLE: QEMU faults (check_s2_mmu_setup)
            reason = (f"IPA size {iasize} bits exceeds the output size {oa_bits} bits "
                      "(CONSTRAINED UNPREDICTABLE: fault, as QEMU)")
        config_fault = reason
    base = 0
    base_fault = False
    if start is not None and not config_fault:
        fmt52 = ds or (granule == 16 and ps == 0b110 and features.lpa and not d128)
        base = _table_base(vttbr, iasize, start, granule, fmt52, d128)
        base_fault = oa_out_of_range(base, oa_bits)
    s2pie = d128 or (bool(t["S2PIE"]) and features.s2pie)   # ASL NSS2TTWParams: D128 forces S2PIE
    s2poe = s2pie and bool(t["S2POE"]) and features.s2poe      # S2POE applies only with S2PIE
    # ASL AArch64.NSS2TTWParams: assuredonly = VTCR_EL2.AssuredOnly with FEAT_THE (and not D128);
    # AArch64.S2CheckPermissions reads VTCR_EL2.GCSH with FEAT_GCS
    perm = S2PermParams(s2pie=s2pie, s2pir=regs.get("S2PIR_EL2") if s2pie else 0,
                        s2poe=s2poe, s2por=regs.get("S2POR_EL1") if s2poe else 0,
                        assuredonly=bool(t["AssuredOnly"]) and features.the and not d128,
                        gcsh=bool(t["GCSH"]) and features.gcs,
                        tl0=bool(t["TL0"]) and features.the, tl1=bool(t["TL1"]) and features.the)
    if s2pie and perm.s2pir is None:
        notes.append("VTCR_EL2.S2PIE = 1 but S2PIR_EL2 was not given: stage 2 permissions are unknown")
    if s2poe and perm.s2por is None:
        notes.append("VTCR_EL2.S2POE = 1 but S2POR_EL1 was not given: stage 2 permissions are unknown")
    if t["S2POE"] and not s2pie:
        notes.append("VTCR_EL2.S2POE = 1 has no effect without S2PIE")
    if (t["S2PIE"] or t["S2POE"]) and not features.mmfr3_known:
        notes.append("ID_AA64MMFR3_EL1 not given: assuming FEAT_S2PIE/FEAT_S2POE")
    if t["HDBSS"]:
        notes.append("VTCR_EL2.HDBSS = 1 is not modelled: the hardware dirty state tracking structure (FEAT_HDBSS)")
    for n, (fld, on) in enumerate((("TL0", perm.tl0), ("TL1", perm.tl1))):
        if on:
            notes.append(f"VTCR_EL2.{fld} = 1 (FEAT_THE): the top-level stage 1 table of a TTBR{n} walk must be fetched "
                         f"from a stage 2 page with the TopLevel{n} attribute (S2PIR_EL2/S2POR_EL1 MRO-TL{n} or MRO-TL01; "
                         f"never with direct stage 2 permissions), and a TTBR{1 - n} walk's top-level table not from "
                         f"a TopLevel{n}-only page, else a stage 2 Permission fault with TopLevel = 1 (ASL "
                         f"AArch64.S2CheckPermissions); it also lets a TTBR{n} walk be Assured "
                         "(AArch64.S1InitialTTWState)")
        elif t[fld]:
            notes.append(f"VTCR_EL2.{fld} = 1 has no effect: FEAT_THE is not implemented")
    if perm.assuredonly:
        notes.append("VTCR_EL2.AssuredOnly = 1 (FEAT_THE): stage 2 descriptor bit 58 is AssuredOnly; an access "
                     "to such a page (AT and a stage 1 table fetch included) is a Permission fault with "
                     "AssuredOnly = 1 unless the stage 1 walk is Assured (ASL AArch64.S2CheckPermissions, Arm ARM "
                     "M.a.a): it starts Assured with VTCR_EL2.TL0 (TTBR0) / TL1 (TTBR1) = 1 and stays so while "
                     "each stage 1 descriptor is Protected (bit 52, TCR2_EL1.PnCH = 1) and fetched from a stage 2 "
                     "MRO page (a table fetch is judged with the property so far); a translation of an IPA alone "
                     "(stage 2 only) is taken as not Assured, as with stage 1 disabled")
    if perm.gcsh:
        notes.append("VTCR_EL2.GCSH = 1 (FEAT_GCS): a GCS access from EL1 to a page without the stage 2 "
                     "AssuredOnly attribute is a Permission fault with AssuredOnly = 1 "
                     "(ASL AArch64.S2CheckPermissions)")
    if t["AssuredOnly"] and not perm.assuredonly:
        notes.append("VTCR_EL2.AssuredOnly = 1 has no effect: FEAT_THE is not implemented")
    haft = _effective_haft(bool(t["HAFT"]), ha, regs, features, "VTCR_EL2", notes)
    h = R.HCR_EL2.decode(hcr)
    return S2WalkParams(
        vttbr=vttbr, granule_shift=granule, txsz=txsz, iasize=iasize, sl0=sl0, sl2=sl2,
        start_level=start, ds=ds, ps=ps, oa_bits=oa_bits, ha=ha, hd=hd, sh=t["SH0"],
        ee=bool(R.SCTLR["EE"].get(_reg(regs, "SCTLR_EL2"))), fwb=bool(h["FWB"]) and features.s2fwb, ptw=bool(h["PTW"]),
        cd=bool(h["CD"]), lpa64=granule == 16 and features.pa_max >= 52 and not d128, base=base,
        base_fault=base_fault, config_fault=config_fault, notes=tuple(notes), perm=perm, haft=haft, d128=d128, skl=skl)


def s1_range_params(regime: Regime, varange: int, regs: Mapping[str, int],
                    features: Features | None = None) -> S1WalkParams:
    """Stage 1 walk parameters of one VA range of ``regime`` from ``regs``
    (TCR_ELx, TTBRn_ELx, SCTLR_ELx, HCR_EL2; ID registers when ``features`` is None).

    The one derivation used by the walker (:func:`setup_from_registers`) and ``pgwalk decode``.
    """
    if features is None:
        features = Features.from_registers(regs)
    el = {Regime.EL10: "EL1", Regime.EL20: "EL2", Regime.EL2: "EL2", Regime.EL3: "EL3"}[regime]
    e2h = bool(R.HCR_EL2["E2H"].get(_reg(regs, "HCR_EL2")))
    return _s1_range_params(regime, varange, regs, features, el, e2h)


def s2_params(regs: Mapping[str, int], features: Features | None = None) -> S2WalkParams:
    """Stage 2 walk parameters from ``regs`` (VTCR_EL2, VTTBR_EL2, HCR_EL2; ID registers
    when ``features`` is None), with the configuration checks of ``S2Translate``.

    The one derivation used by the walker (:func:`setup_from_registers`) and ``pgwalk decode``.
    """
    if features is None:
        features = Features.from_registers(regs)
    return _s2_params(regs, features)


def _s2_invalid_sl(granule: int, sl0: int, sl2: int, ds: bool, features: Features) -> str:
    """ASL ``AArch64.S2InvalidSL``: reserved or unsupported start levels, against PAMax."""
    pa_max = features.pa_max
    if granule == 12:
        sl = (sl2 << 2) | sl0
        if sl in (0b101, 0b110, 0b111):
            return f"VTCR_EL2.{{SL2,SL0}} = {sl:03b} is reserved"
        if sl == 0b100 and pa_max < 52:
            return f"start level -1 needs PAMax 52 bits (PAMax is {pa_max})"
        if sl == 0b010 and pa_max < 44:
            return f"start level 0 needs PAMax >= 44 bits (PAMax is {pa_max})"
        if sl == 0b011 and not features.ttst:
            return "start level 3 with 4KB needs FEAT_TTST"
        return ""
    if granule == 14:
        if sl0 == 0b11 and (not ds or pa_max < 52):
            return "16KB start level 0 needs DS = 1 and PAMax 52 bits"
        if sl0 == 0b10 and pa_max < 42:
            return f"16KB start level 1 needs PAMax >= 42 bits (PAMax is {pa_max})"
        return ""
    if sl0 == 0b11:
        return "VTCR_EL2.SL0 = 0b11 is reserved with 64KB"
    if sl0 == 0b10 and pa_max < 44:
        return f"64KB start level 1 needs PAMax >= 44 bits (PAMax is {pa_max})"
    return ""


def _s2_inconsistent_sl(iasize: int, granule: int, start: int) -> str:
    """ASL ``AArch64.S2InconsistentSL``: the start level must resolve 1..stride+4 bits."""
    stride = granule - 3
    levels = FINAL_LEVEL - start
    sl_min = levels * stride + granule + 1
    sl_max = sl_min + (stride - 1) + 4
    if iasize < sl_min or iasize > sl_max:
        return (f"start level {start} is inconsistent with a {iasize}-bit IPA "
                f"(needs {sl_min}..{sl_max} bits with {granule_name(granule)})")
    return ""


def _ee(regs: Mapping[str, int], el: str) -> bool:
    return bool(R.SCTLR["EE"].get(_reg(regs, f"SCTLR_{el}")))


def default_regime(regs: Mapping[str, int]) -> Regime:
    """The regime a register file describes: EL1&0 if it has EL1 translation registers."""
    if any(k in regs for k in ("TCR_EL1", "TTBR0_EL1", "TTBR1_EL1")):
        return Regime.EL10
    if "TCR_EL2" in regs or "TTBR0_EL2" in regs:
        return Regime.EL20 if R.HCR_EL2["E2H"].get(_reg(regs, "HCR_EL2")) else Regime.EL2
    if "TCR_EL3" in regs or "TTBR0_EL3" in regs:
        return Regime.EL3
    return Regime.EL10


def regime_for_el(el: int, regs: Mapping[str, int]) -> Regime:
    """The regime an access from ``el`` uses (ASL ``TranslationRegime``)."""
    hcr = _reg(regs, "HCR_EL2")
    e2h, tge = R.HCR_EL2["E2H"].get(hcr), R.HCR_EL2["TGE"].get(hcr)
    if el == 3:
        return Regime.EL3
    if el == 2:
        return Regime.EL20 if e2h else Regime.EL2
    if e2h and tge:
        return Regime.EL20
    return Regime.EL10


def setup_from_registers(regs: Mapping[str, int], regime: Regime | None = None, *,
                         stage1: bool = True) -> TranslationSetup:
    """Decode a register file into walk parameters for ``regime``.

    ``stage1=False`` (stage 2 alone: ``translate --stages 2``, ``dump-tree --stage 2``) needs
    only what stage 2 reads: VTCR_EL2 and VTTBR_EL2 (and the ID registers); TCR_EL1, SCTLR_EL1
    and MAIR_EL1 are neither required nor noted, and the VTTBR_EL2 tree is set up even where
    HCR_EL2 does not enable stage 2 for the EL1&0 regime (a note says so).

    >>> s = setup_from_registers({"TCR_EL1": 0x10, "TTBR0_EL1": 0x40000000, "SCTLR_EL1": 1})
    >>> s.ranges[0].start_level, hex(s.ranges[0].base)
    (0, '0x40000000')

    :param regs: architectural register name (upper case) -> value
    :raises RegisterError: when a register needed for the regime is missing
    """
    if regime is None:
        regime = default_regime(regs)
    features = Features.from_registers(regs)
    notes = list(features.assumed)
    hcr = _reg(regs, "HCR_EL2")
    h = R.HCR_EL2.decode(hcr)
    el = {Regime.EL10: "EL1", Regime.EL20: "EL2", Regime.EL2: "EL2", Regime.EL3: "EL3"}[regime]
    sctlr_name = f"SCTLR_{el}"
    sctlr = regs.get(sctlr_name)
    mmu_off = sctlr is not None and not R.SCTLR["M"].get(sctlr)
    if not stage1:
        if regime is not Regime.EL10:
            raise RegisterError(f"stage 2 translates the EL1&0 regime, not {regime.value}")
        if "VTCR_EL2" not in regs:
            raise RegisterError("stage 2 alone needs VTCR_EL2 (and VTTBR_EL2), which were not given")
    elif f"TCR_{el}" not in regs and not (mmu_off or (regime is Regime.EL10 and h["DC"])):
        raise RegisterError(f"TCR_{el} is needed for the {regime.value} regime and was not given")
    if sctlr is None:
        sctlr = 1
        if stage1:
            notes.append(f"{sctlr_name} not given: assuming the MMU is on (M = 1)")
    s = R.SCTLR.decode(sctlr)
    e2h = bool(h["E2H"])
    if regime is Regime.EL10:
        s1_enabled = bool(s["M"]) and not (h["DC"] or h["TGE"])
    else:
        s1_enabled = bool(s["M"])
    ranges: list[S1WalkParams] = []
    nranges = 2 if regime.has_unprivileged else 1
    for varange in range(nranges):
        p = s1_range_params(regime, varange, regs, features)
        ranges.append(p)
        if s1_enabled and stage1:
            notes.extend(p.notes)
    s2 = None
    s2_on = regime is Regime.EL10 and (h["VM"] or h["DC"]) and not (e2h and h["TGE"])
    if s2_on or not stage1:
        if "VTCR_EL2" not in regs:
            raise RegisterError("HCR_EL2 enables stage 2 (VM or DC) but VTCR_EL2 was not given")
        s2 = s2_params(regs, features)
        notes.extend(s2.notes)
        if not s2_on:
            notes.append(("HCR_EL2 not given" if "HCR_EL2" not in regs else
                          "HCR_EL2 does not enable stage 2 for EL1&0 (VM and DC are 0, or E2H and TGE are 1)")
                         + ": the VTTBR_EL2 tree is walked as asked")
    if not stage1:
        s1_enabled = False          # not used: stage 2 alone reads IPAs
    for p in ranges:
        if p.fngna and s1_enabled:
            notes.append(_fngna_note(p, s2 if s2_on else None))
    mair_known = f"MAIR_{el}" in regs
    if s1_enabled and not mair_known:
        notes.append(f"MAIR_{el} not given: stage 1 memory attributes are unknown (each leaf's AttrIndx is shown)")
    # FEAT_AIE: AttrIndx[3] = 1 selects MAIR2_ELx (ASL S1TTWParams .aie, .mair2); not given: unknown
    mair2 = regs.get(f"MAIR2_{el}") if any(p.aie for p in ranges) else 0
    if s1_enabled and mair2 is None:
        notes.append(f"{'TCR_EL3' if el == 'EL3' else 'TCR2_' + el}.AIE = 1 but MAIR2_{el} was not given: the "
                     "attributes of leaves with AttrIndx[3] = 1 are unknown")
    pstate = regs.get("PSTATE")
    pan = bool(R.PSTATE["PAN"].get(pstate)) if pstate is not None else False
    return TranslationSetup(
        regime=regime, features=features, s1_enabled=s1_enabled, ranges=tuple(ranges), s2=s2,
        mair=_reg(regs, f"MAIR_{el}"), wxn=bool(s["WXN"]),
        epan=bool(s["EPAN"]) and features.pan >= 3, s1_ee=bool(s["EE"]),
        dc=bool(h["DC"]) and regime is Regime.EL10 and not (e2h and h["TGE"]),   # DC is 0 in effect under {E2H,TGE} = {1,1}
        pan=pan, registers=dict(regs), notes=tuple(dict.fromkeys(notes)), mair_known=mair_known, mair2=mair2)
