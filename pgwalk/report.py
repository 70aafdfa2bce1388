"""Plain data views of walk results: the JSON schema of ``pgwalk translate --json``.

Schema (version 2; JSON Schema: ``pgwalk schema translate``), one object per address::

    {
      "schema": 2,
      "va": "0x...",              # the input address (an IPA with --stages 2)
      "ok": true,                 # no fault
      "stages": "1" | "2" | "12",
      "regime": "EL1&0" | "EL2&0" | "EL2" | "EL3",
      "ipa": "0x..." | null,      # stage 1 output (null if stage 1 faulted)
      "pa": "0x..." | null,       # stage 2 output (null with --stages 1 under stage 2)
      "size": 4096 | null,        # size of the mapping (smaller of the two leaves)
      "fault": null | {"type": "translation", "level": -1..3, "stage": 1|2, "s1ptw": bool,
                       "fsc": int, "fsc_hex": "0x07", "ipa": "0x..." | null,
                       "description": str, "reason": str, "not_in_image": bool},
      "attributes": null | {"memtype": "Normal"|"Device", "device": "nGnRnE"|..., "inner": str,
                            "outer": str, "shareability": "NSH"|"ISH"|"OSH", "par_attr": "0xff"},
      "attributes_unknown": str,  # only when translated but MAIR was not given: "AttrIndx 3, MAIR not given"
      "permissions": null | {"el1": "rwx", "el0": "r--", "stage2_el1": "rw-", "stage2_el0": "rw-"},
                               # (one-EL regimes EL2 and EL3: {"el2": ...} / {"el3": ...})
      "contents_in_image": true | false | null,   # whether the image holds the bytes at "pa"
                                  # (false: outside the image, or a crash dump left the page out:
                                  # excluded by dump level, or in a split-dump file not given; the
                                  # PA itself is right); null without a PA or when not checked
      # the trace keys (:data:`TRACE_KEYS`), only with ``--json --trace``:
      "s1": null | leaf, "s2": null | leaf,
      "steps": [ {"stage", "level", "table", "index", "desc_addr", "desc_pa", "raw", "kind",
                  "next", "fields": {name: int}, "note", "s1_level"} ],
      "af_updates": [ {"stage": 1|2, "level": int, "s1_level": int | null, "table": bool} ],
                                  # the descriptors whose Access flag the hardware sets
                                  # (Translation.af_updates): leaves with HA = 1 and AF = 0, table
                                  # descriptors with FEAT_HAFT; s1_level: a stage 2 descriptor of
                                  # the stage 1 table fetch at that level
      "notes": [str],
      "label": str | null,        # only for crash dumps with VMCOREINFO: the kernel region
      (and the fault's "reason")
    }

Version 2 (was 1): the keys no longer depend on how many addresses were given.  Version 1
printed the trace keys for fewer than 64 addresses and left them out from 64 on (the
vectorised walker); version 2 prints them only with ``--trace``, for any count, and
``translate --reverse`` lines carry schema 2 as well (their ``mappings`` are these objects).

A leaf is ``{"level", "kind", "raw", "oa_base", "size", "af", "ng", "contiguous", "dbm",
"attr_index", "sh", "attributes"}``.  Addresses and raw descriptors are hex strings.

An address whose walk cannot start because a register was not given (an unknown
TTBRn_ELx: not a fault) has ``"ok": false``, ``"fault": null``, ``"unknown_register"``
(the register's name) and ``"reason"`` (``pgwalk translate`` builds it).

``--csv`` prints one row of :data:`CSV_COLUMNS` per address (:func:`csv_row`), taken
from the same object: booleans as ``true``/``false``, null as an empty cell, the fault
status code as hex, ``attributes`` as the description and ``permissions`` as
``el1=rw- el0=---`` pairs.
"""

from __future__ import annotations

from . import attrs as A
from .jsonrecords import SCHEMA_VERSION
from .perms import S1Perms, S2Perms, s1_effective, s1_rwx_text
from .walk import Leaf, TraceStep, Translation

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Sequence

__all__ = ["translation_to_dict", "attrs_to_dict", "permissions", "hx", "CSV_COLUMNS", "csv_row", "csv_line",
           "csv_pick", "csv_indices", "TRACE_KEYS", "drop_trace"]

#: keys of a translate object that only ``--json --trace`` prints (and the fault's ``reason``)
TRACE_KEYS = ("s1", "s2", "steps", "af_updates", "notes", "label")


def drop_trace(d: dict[str, Any]) -> dict[str, Any]:
    """A translate object without its trace (:data:`TRACE_KEYS` and the fault's ``reason``),
    in place: the object ``translate --json`` prints without ``--trace``."""
    for key in TRACE_KEYS:
        d.pop(key, None)
    if d.get("fault") is not None:
        d["fault"].pop("reason", None)
    return d


def hx(v: int | None) -> str | None:
    return None if v is None else f"{v:#x}"


def attrs_to_dict(m: A.MemAttrs | None) -> dict[str, Any] | None:
    if m is None:
        return None
    m = A.effective_shareability(m)   # Device and Normal iNC/oNC are Outer Shareable (ASL EffectiveShareability)
    return {
        "memtype": m.memtype, "device": m.device,
        "inner": None if m.inner is None else str(m.inner),
        "outer": None if m.outer is None else str(m.outer),
        "shareability": m.shareability, "description": m.describe(),
        "par_attr": f"{A.encode_par_attrs(m):#04x}",
        **({"unpredictable": m.unpredictable} if m.unpredictable else {}),
    }


def _attributes_unknown(t: Translation) -> str:
    """Why a successful translation has no attributes: the MAIR byte its AttrIndx selects is unknown."""
    if t.s1 is not None and t.s1.attr_index is not None:
        return f"AttrIndx {t.s1.attr_index}, MAIR{'2' if t.s1.attr_index > 7 else ''} not given"
    return "MAIR not given"


def permissions(t: Translation, *, wxn: bool = False, epan: bool = False) -> dict[str, str] | None:
    """Permissions per EL of a successful translation (PAN as the translation was asked)."""
    out: dict[str, str] = {}
    if t.s1 is not None and isinstance(t.s1.perms, S1Perms):
        p = t.s1.perms
        for el, el0 in ((1, False), (0, True)) if p.two_el else ((t.el, False),):
            out[f"el{el}"] = s1_rwx_text(p, el0=el0, pan=t.pan and not el0, epan=epan, wxn=wxn)   # PIE/POE/GCS aware
    if t.s2 is not None and isinstance(t.s2.perms, S2Perms):
        out["stage2_el1"] = t.s2.perms.text(False)
        out["stage2_el0"] = t.s2.perms.text(True)
    return out or None


def _leaf(leaf: Leaf | None) -> dict[str, Any] | None:
    if leaf is None:
        return None
    return {"level": leaf.level, "kind": leaf.kind, "raw": hx(leaf.raw), "oa_base": hx(leaf.oa_base),
            "size": leaf.size, "af": leaf.af, "ng": leaf.ng, "contiguous": leaf.contiguous, "dbm": leaf.dbm,
            "attr_index": leaf.attr_index, "sh": leaf.sh, "attributes": attrs_to_dict(leaf.attrs)}


def _step(s: TraceStep) -> dict[str, Any]:
    return {"stage": s.stage, "level": s.level, "table": hx(s.table), "index": s.index,
            "desc_addr": hx(s.desc_addr), "desc_pa": hx(s.desc_pa), "raw": hx(s.raw), "kind": s.kind,
            "next": hx(s.next_addr), "fields": s.fields, "note": s.note, "s1_level": s.s1_level}


def translation_to_dict(t: Translation, *, wxn: bool = False, epan: bool = False,
                        extra_notes: tuple[str, ...] = (), contents: bool | None = None) -> dict[str, Any]:
    """The JSON object for one translation (schema in the module docstring); ``contents``:
    whether the image holds the bytes at the PA (``None``: not checked)."""
    f = t.fault
    fault = None if f is None else {
        "type": f.type.value, "level": f.level, "stage": f.stage, "s1ptw": f.s1ptw, "fsc": f.fsc,
        "fsc_hex": f"{f.fsc:#04x}", "ipa": hx(f.ipa), "description": f.description, "reason": f.reason,
        "not_in_image": f.not_in_image}
    shift = t.size_shift
    return {
        "schema": SCHEMA_VERSION, "va": hx(t.va), "ok": t.ok, "stages": t.stages, "regime": t.regime.value,
        "ipa": hx(t.ipa), "pa": hx(t.pa), "size": None if shift is None or not t.ok else 1 << shift,
        "fault": fault, "attributes": attrs_to_dict(t.attrs) if t.ok else None,
        **({"attributes_unknown": _attributes_unknown(t)} if t.ok and t.attrs is None else {}),
        "permissions": permissions(t, wxn=wxn, epan=epan) if t.ok else None,
        "contents_in_image": contents if t.ok and t.pa is not None else None,
        "s1": _leaf(t.s1), "s2": _leaf(t.s2), "steps": [_step(s) for s in t.steps],
        "af_updates": [{"stage": u.stage, "level": u.level, "s1_level": u.s1_level, "table": u.table}
                       for u in t.af_updates],
        "notes": list(t.notes) + list(extra_notes),
    }


#: ``pgwalk translate --csv`` columns, one row per address
CSV_COLUMNS = ("va", "ok", "ipa", "pa", "size", "fault", "fault_level", "fault_stage", "s1ptw", "fsc",
               "fault_ipa", "not_in_image", "memtype", "attributes", "shareability", "par_attr", "permissions",
               "contents_in_image")


def csv_pick(cells: list[str], indices: list[int] | None) -> list[str]:
    """The cells of a :func:`csv_row` that ``indices`` (:func:`csv_indices`) select; all for ``None``."""
    return cells if indices is None else [cells[j] for j in indices]


def csv_indices(columns: Sequence[str] | None) -> list[int] | None:
    """Where each of ``columns`` (``--fields``) stands in a :func:`csv_row`; ``None`` (all, in order) for ``None``."""
    return None if columns is None else [CSV_COLUMNS.index(name) for name in columns]


def _csv_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_row(d: dict[str, Any]) -> list[str]:
    """The :data:`CSV_COLUMNS` cells of one translation object (scalar or bulk)."""
    f = d.get("fault") or {}
    a = d.get("attributes") or {}
    perms = d.get("permissions") or {}
    cells = [d["va"], d["ok"], d["ipa"], d["pa"], d["size"], f.get("type"), f.get("level"), f.get("stage"),
             f.get("s1ptw"), f.get("fsc_hex"), f.get("ipa"), f.get("not_in_image"), a.get("memtype"),
             a.get("description"), a.get("shareability"), a.get("par_attr"),
             " ".join(f"{k}={v}" for k, v in perms.items()) or None, d.get("contents_in_image")]
    return [_csv_text(c) for c in cells]


def csv_line(cells: list[str] | tuple[str, ...]) -> str:
    """One CSV line (quoted where needed, ``\\n``-terminated)."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()
