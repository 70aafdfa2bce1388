"""``pgwalk schema [NAME]``: the JSON Schema of one ``--json`` record type, or the list of them.

Every command's ``--json`` output is JSON Lines; each line carries a ``schema`` version
(:data:`pgwalk.jsonrecords.RECORD_SCHEMAS`) and follows the JSON Schema (draft 2020-12) shipped
in ``pgwalk/schemas/NAME.json``.
"""

from __future__ import annotations

from .output import echo
from .spec import Argument, Command

__all__ = ["SCHEMA", "run_schema"]

#: the command whose --json output each record type is
_WHERE = {
    "translate": "translate --json", "translate-reverse": "translate --reverse --json",
    "at": "at --json, at --batch FILE --json", "dump-tree": "dump-tree --json",
    "esr": "decode-esr VALUE --json, decode ESR_ELx VALUE --json", "esr-log": "decode-esr --log FILE --json",
    "register": "decode REGISTER VALUE --json", "descriptor": "decode descriptor VALUE --json",
    "info": "info --json", "vtop": "vtop --json", "ptov": "ptov --json",
}


def run_schema(name: str | None) -> int:
    """Print the JSON Schema of the --json record type NAME (without NAME: list the types).

    Every --json output is JSON Lines, one record per line, with a "schema"
    version member; addresses and register values are hex strings.
    """
    from ..errors import InputError
    from ..jsonrecords import RECORD_SCHEMAS, schema_names, schema_text

    if name is None:
        for n in schema_names():
            echo(f"{n:<18} version {RECORD_SCHEMAS[n]}  {_WHERE.get(n, '')}".rstrip())
        return 0
    if name not in RECORD_SCHEMAS:
        raise InputError(f"no record type {name!r} (pgwalk schema lists them: {', '.join(schema_names())})")
    echo(schema_text(name), nl=False)
    return 0


SCHEMA = Command("schema", run_schema, (Argument("name", required=False),))
