"""AT for many addresses at once: the PAR_EL1 values :func:`pgwalk.at.at` gives, from one
vectorised walk (:func:`pgwalk.bulk.translate_many`) and one :func:`pgwalk.par.pack_par` over
its arrays (Arm ARM DDI 0487 M.a.a, ASL ``AArch64.AT``, ``AArch64.EncodePAR``).

The regime, stage and PAN choices are the operation's (:mod:`pgwalk.at_ops`, shared with
:mod:`pgwalk.at`); the attribute fields (SH, ATTR) are encoded by :mod:`pgwalk.attrs` once per
distinct combination of the leaf fields they depend on (:func:`_attr_key`).

A setup with a VMSAv9-128 (FEAT_D128) stage is walked by the per-address engine of
:func:`~pgwalk.bulk.translate_many` (:func:`pgwalk.bulk.per_address_note`); its PAR may be the
128-bit format (:func:`pgwalk.par.par_format_d128`), and ``par`` then holds Python ints.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import attrs as A
from . import rules as R
from .at_ops import ATOp, el3_ns, par_is_d128, parse_at_op, pstate_pan
from .bulk import CHUNK, FAULT_TYPES, BulkTranslation, DescriptorReader, translate_many
from .errors import InputError, UnknownRegister
from .faults import FaultType
from .formats import descriptors as D
from .memory_protocol import Memory
from .par import pack_par
from .params import Regime, TranslationSetup, setup_from_registers
from .perms import pan_applies
from .records import named_tuple
from .walk import translate

__all__ = ["BulkAT", "bulk_at"]

_U64 = np.uint64
_SEA = FAULT_TYPES.index(FaultType.SYNC_EXTERNAL_ON_WALK)
_SH = D.S1_LEAF["SH"]
_ATTRINDX = D.S1_LEAF["AttrIndx"]
_MEMATTR = D.S2_LEAF["MemAttr"]
_FNXS = D.S2_LEAF["FnXS"]
_S2SH = D.S2_LEAF["SH"]

# _attr_key: a successful lane's attributes and permissions are fixed by the mapping size, the
# stage 1 leaf's attribute and permission inputs and the stage 2 leaf's, packed into one integer
_K_SIZE_BITS = 6                                          # log2 of the mapping size < 64
_KS1_ATTR = R.S1_PERMISSION_CODE_BITS                     # s1 key: permission code, AttrIndx, range, SH
_KS1_RANGE = _KS1_ATTR + _ATTRINDX.width + 1             # AttrIndx is 4 bits with FEAT_AIE
_KS1_SH = _KS1_RANGE + 1
_KS1_PO = _KS1_SH + _SH.width                            # POIndex (FEAT_S1POE), when an overlay applies
_K_S1_BITS = _KS1_PO + D.S1_POINDEX.width
_KS2_MEMATTR = R.S2_PERMISSION_CODE_BITS                  # s2 key: permission code, MemAttr, FnXS, SH, S2POIndex
_KS2_FNXS = _KS2_MEMATTR + _MEMATTR.width
_KS2_SH = _KS2_FNXS + _FNXS.width
_KS2_PO = _KS2_SH + _S2SH.width
_K_S2_BITS = _KS2_PO + D.S2_POINDEX.width
_K_SIZE = 0
_K_S1 = _K_SIZE + _K_SIZE_BITS
_K_S2 = _K_S1 + _K_S1_BITS
assert _K_S2 + _K_S2_BITS <= 64


def _get(f: D.Field, raw: np.ndarray) -> np.ndarray:
    return (raw >> _U64(f.lsb)) & _U64(f.wmask)


@named_tuple
class BulkAT:
    """What ``AT <op>`` leaves for every address (see :func:`bulk_at`)."""

    #: PAR_EL1 values (0 where ``exception``): uint64, or in the 128-bit format (FEAT_D128) an object
    #: array of Python ints
    par: np.ndarray
    exception: np.ndarray     #: bool: the AT raises an exception instead of writing PAR_EL1
    result: BulkTranslation   #: the translations behind them
    regime: Regime
    stages: str               #: the stages the AT ran ("1" when stage 2 is off)


def bulk_at(setup_or_regs: TranslationSetup | Mapping[str, int], mem: Memory, op: Any, vas: Any, *,
            pan: bool | None = None, exec_el: int | None = None, chunk: int = CHUNK,
            reader: DescriptorReader | None = None) -> BulkAT:
    """``AT <op>`` for every address of ``vas``: the PAR_EL1 values :func:`pgwalk.at.at` gives.

    The regime, stages, PAN and exception rules are :func:`pgwalk.at.at`'s: a
    synchronous external abort on the walk (an address not in the image) raises
    an exception instead of writing PAR_EL1, and so does a stage 2 fault on the
    stage 1 walk with ``exec_el=1``; those lanes have ``exception`` set.  In the EL3
    regime PAR.NS needs NSTable along each successful walk: those lanes are walked again
    by the scalar walker (EL3 ATs gain nothing here).

    :param op: an :class:`~pgwalk.at.ATOp` or its name (``"S1E1R"``)
    :param pan: PSTATE.PAN; default from the PSTATE/CPSR (or PAN) register
    """
    if not isinstance(op, ATOp):
        op = parse_at_op(op)
    if isinstance(setup_or_regs, TranslationSetup):
        setup: TranslationSetup | None = setup_or_regs
        regs = setup_or_regs.registers
    else:
        regs, setup = setup_or_regs, None
    if exec_el is not None and (exec_el not in (1, 2, 3) or exec_el < op.regime_el
                                or (op.stages == "12" and exec_el < 2)):
        raise InputError(f"AT {op.name} is UNDEFINED at EL{exec_el}")
    regime = op.regime(regs) if regs else (setup.regime if setup else Regime.EL10)
    if setup is None or setup.regime is not regime:
        setup = setup_from_registers(regs, regime)
    if pan is None:
        pan = pstate_pan(regs)
    stages = op.stages if setup.s2 is not None and op.stages == "12" else "1"
    res = translate_many(setup, mem, vas, stages=stages, access=op.access, el=op.el,
                         pan=pan_applies(op.pan and pan, op.access, regime), chunk=chunk, reader=reader)
    ok = res.ok
    exception = res.fault_type == _SEA
    if exec_el == 1:
        exception |= res.s1ptw & (res.fault_stage == 2)
    # the fields of every lane, then PAR_EL1 packed once (pgwalk.par.pack_par)
    sh = np.zeros(len(res), dtype=np.uint8)
    attr = np.zeros(len(res), dtype=np.uint8)
    ns = np.full(len(res), regime is not Regime.EL3)
    good = np.nonzero(ok)[0]
    if len(good):
        # the attribute fields: one scalar encoding per distinct attribute key
        keys = _attr_key(res)[good]
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        sh_u = np.zeros(len(uniq), dtype=np.uint8)
        attr_u = np.zeros(len(uniq), dtype=np.uint8)
        for k, i in enumerate(first.tolist()):
            attrs = res.translation(int(good[i])).attrs
            if attrs is None:
                name = {Regime.EL10: "MAIR_EL1", Regime.EL3: "MAIR_EL3"}.get(regime, "MAIR_EL2")
                raise UnknownRegister(name, int(res.va[good[i]]),
                                      f"PAR_EL1.ATTR is the {name} byte the leaf's AttrIndx selects; "
                                      f"give it with --reg {name}=VALUE", what="PAR_EL1 cannot be encoded")
            sh_u[k] = A.par_shareability(attrs)
            attr_u[k] = A.encode_par_attrs(attrs, setup.features.xs)
        sh[good] = sh_u[inv.reshape(-1)]
        attr[good] = attr_u[inv.reshape(-1)]
        if regime is Regime.EL3:
            # PAR.NS of a Secure (EL3) translation follows NSTable along the walk and the leaf's NS
            # bit (pgwalk.at_ops.el3_ns), which the vectorised walk does not keep: the scalar walk
            for i in good.tolist():
                t = translate(setup, mem, int(res.va[i]), stages=stages, access=op.access, el=op.el, pan=res.pan)
                ns[i] = el3_ns(t)
    d128 = par_is_d128(setup, regime, op)
    par = pack_par(~ok, fst=res.fsc, s1ptw=res.s1ptw, stage2=res.fault_stage == 2, overlay=res.overlay,
                   dirty_bit=res.dirty_bit, assured_only=res.assured_only, toplevel=res.toplevel, sh=sh, ns=ns,
                   attr=attr, pa=res.output, d128=d128)
    par[exception] = 0
    return BulkAT(par, exception, res, regime, stages)


def _attr_key(res: BulkTranslation) -> np.ndarray:
    """Everything the attributes, permissions and size of a successful lane depend on."""
    setup = res.setup
    n = len(res)
    key = np.zeros(n, dtype=_U64)
    has1 = res.has_s1
    if has1.any():
        raw = res.s1_desc
        s1 = R.s1_permission_code(raw, res.s1_table_bits).astype(_U64)
        aie = any(p.aie for p in setup.ranges)
        # (a VMSAv9-128 leaf's bits [63:0]: its attribute fields are there, AttrIndx[3] at bit 5)
        s1 |= R.s1_attr_index(raw, aie, any(p.d128 for p in setup.ranges)) << _U64(_KS1_ATTR)
        if len(setup.ranges) > 1:
            s1 |= R.va_range(res.va) << _U64(_KS1_RANGE)
        ds = any(p.ds for p in setup.ranges)
        if not ds:                                    # with DS the shareability is TCR's
            s1 |= _get(_SH, raw) << _U64(_KS1_SH)
        if any(p.perm.overlay for p in setup.ranges):  # lanes with different POIndex are judged apart
            s1 |= _get(D.S1_POINDEX, raw) << _U64(_KS1_PO)
        key |= np.where(has1, s1, _U64(0)) << _U64(_K_S1)
    if setup.s2 is not None:
        has2 = res.has_s2
        if has2.any():
            raw = res.s2_desc
            s2 = R.s2_permission_code(raw).astype(_U64)
            s2 |= _get(_MEMATTR, raw) << _U64(_KS2_MEMATTR)
            s2 |= _get(_FNXS, raw) << _U64(_KS2_FNXS)
            if not setup.s2.ds:
                s2 |= _get(_S2SH, raw) << _U64(_KS2_SH)
            if setup.s2.perm.s2poe:
                s2 |= _get(D.S2_POINDEX, raw) << _U64(_KS2_PO)
            key |= np.where(has2, s2, _U64(0)) << _U64(_K_S2)
    key |= res.size_shift.astype(_U64) << _U64(_K_SIZE)
    return key
