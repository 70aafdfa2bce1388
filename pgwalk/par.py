"""PAR_EL1 encoded once (Arm ARM DDI 0487 M.a.a, ASL ``AArch64.EncodePAR``, the 64-bit format
without FEAT_RME), for one AT or a million.

:func:`pack_par` is a pure function of the result fields: the fault (FST, PTW, S, and a Permission fault's Overlay, DirtyBit, AssuredOnly, TopLevel) or the
translation (SH, NS, ATTR, PA).  Every argument may be a Python int (bool) or a numpy array
(one lane per AT); with any array the result is a ``uint64`` array.  The scalar AT
(:func:`pgwalk.at.encode_par`) and the vectorised one (:func:`pgwalk.at_many.bulk_at`) both call
it; what goes *into* the fields (the FSC, the shareability and attribute byte from
:mod:`pgwalk.attrs`, the PA space) they take from the rules that decide those.

Numpy is imported only when an array comes in.
"""

from __future__ import annotations

from .formats.fields import Field
from .formats.registers import PAR_EL1_D128, PAR_EL1_D128_PA, PAR_EL1_FAULT, PAR_EL1_OK

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__all__ = ["pack_par", "par_format_d128"]

# constant bits: F = 1 and the RES1 bit 11 of a fault; F = 0 and NSE (RES1 without FEAT_RME) of a success
_FAULT = PAR_EL1_FAULT.encode(F=1, RES1_11=1)
_OK = PAR_EL1_OK.encode(F=0, NSE=1)
_PA = PAR_EL1_OK["PA"]


def _k(like: Any, value: int) -> Any:
    dt = getattr(like, "dtype", None)
    return value if dt is None else dt.type(value)


def _put(f: Field, value: Any) -> Any:
    """``value`` (masked to the field's width) in field ``f``."""
    if getattr(value, "ndim", 0):
        v = value.astype("uint64")
        return (v & _k(v, f.wmask)) << _k(v, f.lsb)
    return (int(value) & f.wmask) << f.lsb


def pack_par(failed: Any, *, fst: Any = 0, s1ptw: Any = False, stage2: Any = False, overlay: Any = False,
             dirty_bit: Any = False, assured_only: Any = False, toplevel: Any = False, sh: Any = 0, ns: Any = 1, attr: Any = 0,
             pa: Any = 0, d128: bool = False) -> Any:
    """ASL ``AArch64.EncodePAR``: the PAR_EL1 value an AT leaves.

    >>> hex(pack_par(True, fst=0x07, stage2=True))        # level 3 Translation fault at stage 2
    '0xa0f'
    >>> hex(pack_par(True, fst=0x0F, overlay=True))    # level 3 Permission fault caused by the overlay
    '0x481f'
    >>> hex(pack_par(False, sh=0b11, ns=1, attr=0xFF, pa=0x4000_1234))
    '0xff00000040001b80'

    :param failed: the AT faulted (PAR.F); the fault fields apply where it did, the others elsewhere
    :param fst: the fault status code (:attr:`pgwalk.faults.Fault.fsc`)
    :param s1ptw: the fault was a stage 2 fault on the stage 1 walk (PAR.PTW)
    :param stage2: the fault was taken at stage 2 (PAR.S)
    :param overlay, dirty_bit, assured_only, toplevel: the Permission fault's flags (PAR.Overlay [14],
        PAR.DirtyBit [15], PAR.AssuredOnly [12], PAR.TopLevel [13]; ASL ``AArch64.EncodePAR`` from the
        ``FaultRecord``, :attr:`pgwalk.faults.Fault.overlay` ...)
    :param sh: PAR.SH (:func:`pgwalk.attrs.par_shareability`)
    :param ns: PAR.NS, the output PA space (1 from a Non-secure regime, where it is UNKNOWN)
    :param attr: PAR.ATTR (:func:`pgwalk.attrs.encode_par_attrs`)
    :param pa: the output address; PAR.PA holds its bits [51:12]
    :param d128: the 128-bit VMSAv9-128 format (:func:`par_format_d128`): PAR.D128 (bit 64) = 1 and
        PA[55:12] in bits [119:76]; with arrays the result is then an object array of Python ints

    >>> hex(pack_par(False, sh=0b11, ns=1, attr=0xFF, pa=0xab_0000_4000_1000, d128=True))
    '0xab000040001001ff00000000000b80'

    :returns: an int, or a ``uint64`` array when any argument is an array (an object array of ints with
        ``d128``)
    """
    if d128:
        low = pack_par(failed, fst=fst, s1ptw=s1ptw, stage2=stage2, overlay=overlay, dirty_bit=dirty_bit,
                       assured_only=assured_only, toplevel=toplevel, sh=sh, ns=ns, attr=attr)
        if not getattr(low, "ndim", 0):
            return _d128_par(low, failed, pa)
        import numpy as np

        out = np.empty(len(low), dtype=object)
        out[:] = [_d128_par(lo, f, a) for lo, f, a in zip(low.tolist(), np.broadcast_to(failed, low.shape).tolist(),
                                                          np.broadcast_to(pa, low.shape).tolist())]
        return out
    fault = _put(PAR_EL1_FAULT["FST"], fst) | _put(PAR_EL1_FAULT["PTW"], s1ptw) | _put(PAR_EL1_FAULT["S"], stage2) \
        | _put(PAR_EL1_FAULT["Overlay"], overlay) | _put(PAR_EL1_FAULT["DirtyBit"], dirty_bit) \
        | _put(PAR_EL1_FAULT["AssuredOnly"], assured_only) | _put(PAR_EL1_FAULT["TopLevel"], toplevel)
    ok = _put(PAR_EL1_OK["SH"], sh) | _put(PAR_EL1_OK["NS"], ns) | _put(PAR_EL1_OK["ATTR"], attr) \
        | _put(_PA, pa >> _k(pa, _PA.lsb))
    if not any(getattr(x, "ndim", 0) for x in (failed, fault, ok)):
        return (_FAULT | fault) if failed else (_OK | ok)
    import numpy as np

    fault = np.uint64(_FAULT) | np.asarray(fault, dtype=np.uint64)
    ok = np.uint64(_OK) | np.asarray(ok, dtype=np.uint64)
    return np.where(np.asarray(failed, dtype=bool), fault, ok)


def _d128_par(low: int, failed: bool, pa: int) -> int:
    """The 128-bit PAR from its bits [63:0] ``low`` (the 64-bit format's fields, its PA field 0): D128 = 1
    and, unless ``failed``, PA[55:12] in bits [119:76]."""
    return low | PAR_EL1_D128.mask | (0 if failed else _put(PAR_EL1_D128_PA, int(pa) >> _PA.lsb))


def par_format_d128(regime: Any, stage1_only: bool, s1_d128: bool, s2_d128: bool | None) -> bool:
    """ASL ``AArch64.isPARFormatD128``: whether an AT writes the 128-bit PAR format, decided by the
    last stage of translation: stage 2's VTCR_EL2.D128 (``s2_d128``; ``None``: stage 2 off) for an
    EL1&0 two-stage AT, else the regime's stage 1 D128 (``s1_d128``).  The EL2 regime has no D128
    format (``regime``: a :class:`pgwalk.params.Regime`)."""
    if regime.value == "EL2":
        return False
    if regime.value == "EL1&0" and not stage1_only and s2_d128 is not None:
        return s2_d128
    return s1_d128
