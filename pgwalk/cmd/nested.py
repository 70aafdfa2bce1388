"""``pgwalk translate --nested``: an L2 guest address through L2's stage 1, a guest
hypervisor's (L1) stage 2 and the host's (L0) stage 2 (:mod:`pgwalk.nested`)."""

from __future__ import annotations

from typing import Any

from ..report import hx
from .output import echo
from .output import notes as print_notes

__all__ = ["run_nested", "nested_to_dict", "run_at_nested", "run_shadow", "NESTED_SCHEMA_VERSION"]

#: version of the ``translate --nested --json`` object
NESTED_SCHEMA_VERSION = 1


def nested_to_dict(r: Any, trace: bool = True) -> dict[str, Any]:
    """The JSON object of a :class:`pgwalk.nested.NestedTranslation`."""
    f = r.fault
    fault = None if f is None else {
        "layer": r.fault_layer, "type": f.type.value, "level": f.level, "stage": f.stage, "s1ptw": f.s1ptw,
        "fsc": f.fsc, "fsc_hex": f"{f.fsc:#04x}", "ipa": hx(f.ipa), "description": f.description,
        "reason": f.reason, "not_in_image": f.not_in_image}
    out: dict[str, Any] = {
        "schema": NESTED_SCHEMA_VERSION, "va": hx(r.va), "ok": r.ok, "l2_ipa": hx(r.l2_ipa),
        "l1_ipa": hx(r.l1_ipa), "pa": hx(r.pa), "fault": fault,
        "deliveries": [{"party": d.party, "registers": {k: hx(v) for k, v in d.registers.items()}, "text": d.text}
                       for d in r.deliveries],
    }
    if trace:
        out["steps"] = [{"layer": s.layer, "space": s.space, "purpose": s.purpose, "stage": s.step.stage,
                         "level": s.step.level, "table": hx(s.step.table), "index": s.step.index,
                         "desc_addr": hx(s.step.desc_addr), "desc_pa": hx(s.step.desc_pa),
                         "raw": hx(s.step.raw), "kind": s.step.kind, "next": hx(s.step.next_addr),
                         "note": s.step.note} for s in r.steps]
        out["notes"] = list(r.notes)
    return out


def _text(r: Any, no_trace: bool) -> list[str]:
    chain = [f"L2 VA {r.va:#x}"]
    for name, v in (("L2 IPA", r.l2_ipa), ("L1 IPA", r.l1_ipa), ("PA", r.pa)):
        if v is not None:
            chain.append(f"{name} {v:#x}")
    lines = [" -> ".join(chain)]
    if not no_trace:
        for s in r.steps:
            st = s.step
            raw = "-" if st.raw is None else f"{st.raw:#018x}"
            lines.append(f"  {s.layer:<6} {s.space:<6} L{st.level:<2} {st.desc_addr:#014x} [{st.index:>4}] "
                         f"{raw} {st.kind:<12} {s.purpose}" + (f" ({st.note})" if st.note else ""))
    if r.fault is not None:
        reason = f" ({r.fault.reason})" if r.fault.reason else ""
        lines.append(f"  fault in {r.fault_layer}: {r.fault.description}{reason}")
        for d in r.deliveries:
            regs = ", ".join(f"{k}={v:#x}" for k, v in d.registers.items())
            lines.append(f"  {d.party}: {d.text}" + (f" [{regs}]" if regs else ""))
    return lines


def run_nested(target: Any, vas: list[int], guest_hyp: str, host: str, access: str | None, el: int | None,
               pan: bool, fmt: str | None, no_trace: bool, json_trace: bool) -> int:
    """Translate ``vas`` nested; print text or JSON lines; exit status 1 when any faulted."""
    from ..regs import load_register_file
    from ..jsonrecords import json_line

    if fmt == "csv":
        from ..errors import InputError

        raise InputError("--nested prints text or --json, not --csv")
    l1 = load_register_file(guest_hyp)
    l0 = load_register_file(host)
    status = 0
    notes: dict[str, None] = {}
    for va in vas:
        r = target.translate_nested(va, guest_hyp=l1, host=l0, access=access, el=el, pan=pan)
        notes.update(dict.fromkeys(r.notes))
        if not r.ok:
            status = 1
        if fmt == "json":
            echo(json_line(nested_to_dict(r, trace=json_trace)), nl=False)
        else:
            echo("\n".join(_text(r, no_trace)))
    print_notes(notes)
    return status


def run_at_nested(target: Any, op: str, va: int, guest_hyp: str, host: str, by: str, pan: bool | None,
                  as_json: bool) -> int:
    """One AT in a nested guest; exit status 0 (a PAR was written) or 1 (no PAR: an exception instead)."""
    from ..at import par_decode
    from ..regs import load_register_file
    from ..jsonrecords import json_line

    r = target.at_nested(op, va, guest_hyp=load_register_file(guest_hyp), host=load_register_file(host), by=by,
                         pan=pan)
    if as_json:
        echo(json_line({
            "schema": NESTED_SCHEMA_VERSION, "op": r.op, "va": hx(r.va), "by": r.by, "par": hx(r.par),
            "par_decode": par_decode(r.par) if r.par is not None else None, "outcome": r.outcome,
            "fault_layer": r.fault_layer,
            "deliveries": [{"party": d.party, "registers": {k: hx(v) for k, v in d.registers.items()},
                            "text": d.text} for d in r.deliveries], "notes": list(r.notes)}), nl=False)
    else:
        echo(f"AT {r.op} {r.va:#x} by {r.by}: {r.outcome}")
        if r.par is not None:
            echo(f"  {par_decode(r.par)['summary']}")
        if r.fault_layer:
            echo(f"  fault in {r.fault_layer}")
        for d in r.deliveries:
            regs = ", ".join(f"{k}={v:#x}" for k, v in d.registers.items())
            echo(f"  {d.party}: {d.text}" + (f" [{regs}]" if regs else ""))
        print_notes(r.notes)
    return 0 if r.par is not None else 1


def run_shadow(target: Any, guest_hyp: str, host: str, root: int | None, vtcr: int | None, as_json: bool) -> int:
    """``dump-tree --shadow-s2 [--compare-shadow ROOT]``: the composition, or the mismatches of a shadow
    tree; exit status 1 when a comparison finds anything but missing ranges."""
    from ..regs import load_register_file
    from ..jsonrecords import json_line

    l1, l0 = load_register_file(guest_hyp), load_register_file(host)
    if root is None:
        for e in target.shadow_s2(guest_hyp=l1, host=l0):
            if as_json:
                echo(json_line({
                    "record": "shadow", "schema": NESTED_SCHEMA_VERSION, "l2_ipa_start": hx(e.ipa),
                    "l2_ipa_end": hx(e.end), "size": e.size, "l1_ipa": hx(e.l1_ipa), "pa_start": hx(e.pa),
                    "max_block": e.max_block, "permissions": e.perms.text(False) if e.perms else None,
                    "permissions_el0": e.perms.text(True) if e.perms else None,
                    "attributes": e.attrs.describe() if e.attrs else None,
                    "fault": None if e.fault is None else {"layer": e.fault_layer, "description": e.fault.description}}),
                    nl=False)
            elif e.mapped:
                echo(f"{e.ipa:#014x}-{e.end:#014x} -> PA {e.pa:#014x}  {e.size:#x} bytes, blocks <= "
                           f"{e.max_block:#x}  {e.perms.text(False)}  {e.attrs.describe()}  (L1 IPA {e.l1_ipa:#x})")
            else:
                echo(f"{e.ipa:#014x}-{e.end:#014x}  unmapped: {e.fault_layer} {e.fault.description}"
                           f" (L1 IPA {e.l1_ipa:#x})")
        return 0
    out = target.compare_shadow(root, guest_hyp=l1, host=l0, vtcr=vtcr)
    bad = [m for m in out if m.kind != "missing"]
    for m in out:
        if as_json:
            echo(json_line({"record": "mismatch", "schema": NESTED_SCHEMA_VERSION, "kind": m.kind,
                                  "l2_ipa": hx(m.ipa), "size": m.size, "text": m.text}), nl=False)
        else:
            echo(f"{m.kind:<16} {m.text}")
    summary = (f"{len(bad)} mismatch{'es' if len(bad) != 1 else ''}, "
               f"{len(out) - len(bad)} missing range{'s' if len(out) - len(bad) != 1 else ''} (not yet populated)")
    if as_json:
        echo(json_line({"record": "summary", "schema": NESTED_SCHEMA_VERSION,
                              "mismatches": len(bad), "missing": len(out) - len(bad)}), nl=False)
    else:
        echo(summary)
    return 1 if bad else 0
