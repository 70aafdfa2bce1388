"""pgwalk's JSON Lines records: their types and schema versions, and how one is written.

Every command's ``--json`` output is JSON Lines: one record per line, its ``schema`` version
first, addresses and register values as hex strings (sizes, counts, levels and field values
stay numbers).  The JSON Schema of each record type ships in ``pgwalk/schemas/`` (``pgwalk
schema NAME``).  Nothing is imported here at import (``decode-esr --json`` starts with it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any

__all__ = ["SCHEMA_VERSION", "RECORD_SCHEMAS", "HEX_KEYS", "hex_values", "json_record", "json_line", "schema_names",
           "schema_text"]

#: the schema version of a translation object (``translate --json``; :mod:`pgwalk.report`)
SCHEMA_VERSION = 2

#: Every JSON record type pgwalk prints, with its schema version (the ``schema`` member of each
#: line; JSON Schema: ``pgwalk schema NAME``, files in ``pgwalk/schemas/``).  Every command's
#: ``--json`` output is JSON Lines: one record per line, addresses and register values as hex
#: strings (sizes, counts, levels and field values stay numbers).
RECORD_SCHEMAS: dict[str, int] = {
    "translate": SCHEMA_VERSION,     # translate --json (and at's "translation" member)
    "translate-reverse": 2,          # translate --reverse --json
    "at": 1,                         # at --json, at --batch --json
    "dump-tree": 1,                  # dump-tree --json (range, table and summary records)
    "esr": 1,                        # decode-esr VALUE --json
    "esr-log": 1,                    # decode-esr --log FILE --json (one line per report)
    "register": 1,                   # decode REGISTER VALUE --json
    "descriptor": 1,                 # decode descriptor VALUE --json
    "info": 1,                       # info --json
    "vtop": 1,                       # vtop --json
    "ptov": 1,                       # ptov --json
    "translate-nested": 1,           # translate --nested --json
    "at-nested": 1,                  # at --nested --json
    "shadow-s2": 1,                  # dump-tree --shadow-s2 [--compare-shadow] --json
}

#: members holding an address or a register value: integers there become hex strings
HEX_KEYS = frozenset({"value", "address", "esr", "pgdp"})


def hex_values(obj: Any) -> Any:
    """``obj`` (a JSON-able object) with the integers of :data:`HEX_KEYS` members as hex
    strings, in place; a field's detail (a member with ``msb``) and ``fields`` maps keep
    their integer field values."""
    if isinstance(obj, dict):
        detail = "msb" in obj
        for k, v in obj.items():
            if k in HEX_KEYS and isinstance(v, int) and not isinstance(v, bool) and not detail:
                obj[k] = f"{v:#x}"
            elif k != "fields" and isinstance(v, (dict, list)):
                hex_values(v)
    elif isinstance(obj, list):
        for v in obj:
            hex_values(v)
    return obj


def json_record(kind: str, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` as a record of type ``kind``: its ``schema`` version first, then its members."""
    return {"schema": RECORD_SCHEMAS[kind], **{k: v for k, v in d.items() if k != "schema"}}


def schema_names() -> list[str]:
    """The record types with a JSON Schema file (``pgwalk/schemas/NAME.json``), sorted."""
    return sorted(RECORD_SCHEMAS)


def schema_text(name: str) -> str:
    """The JSON Schema (draft 2020-12) of record type ``name``, as shipped in the package."""
    from importlib import resources

    if name not in RECORD_SCHEMAS:
        raise KeyError(name)
    return (resources.files(__package__) / "schemas" / f"{name}.json").read_text(encoding="utf-8")


def json_line(d: dict[str, Any]) -> str:
    """One JSON Lines line (``\\n``-terminated)."""
    import json

    return json.dumps(d) + "\n"
