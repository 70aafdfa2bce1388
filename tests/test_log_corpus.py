"""decode-esr --log over a corpus of real exception reports copied from public sources.

The corpus (``tests/data/kernlogs/corpus/``, described in its README) holds one
file per report and a manifest saying, for each, who printed it, where it was
published and which syndromes a careful reader finds in it (``expect``).  For
every report this test checks that:

* every syndrome the manifest lists is found, in order, with the FAR / HPFAR /
  PAR / ELR printed next to it;
* every field the report decodes itself (EC, FSC, WnR, names, ...) agrees with
  pgwalk's decode, except in the reports listed in :data:`WRONG_DECODES`,
  whose own decode is wrong (the test prints which, and why).

``PGWALK_LOG_CORPUS=/path/to/corpus`` points the test at another copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pgwalk.kernlog import parse_log

CORPUS = Path(os.environ.get("PGWALK_LOG_CORPUS") or Path(__file__).parent / "data" / "kernlogs" / "corpus")
MANIFEST = CORPUS / "manifest.json"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="log corpus not present")

#: reports whose own decode is wrong: path -> a phrase of pgwalk's disagreement
WRONG_DECODES: dict[str, str] = {
    # OP-TEE names an instruction abort from EL0 (EC 0x20, ESR 0x82000005) a "data-abort"
    "op-tee/ta-user-abort-qemu-notes.txt": "has EC 0x20",
    # Darwin's "(Data Abort) byte read Translation fault" reads an access size from SAS although
    # ISV = 0 (SAS does not hold one then): every such crash report, and lldb showing the same text
    **{path: "gives no access size (ISV = 0" for path in (
        "lldb/lldb-register-read-blank-lines.txt",
        "xnu/agx-metal-crash-annotated-far.txt",
        "xnu/chromium-bug-crash-report-trailing-spaces.txt",
        "xnu/crash-report-debugserver-pac-far.txt",
        "xnu/crash-report-nvim-0x92000007.txt",
        "xnu/crash-report-python3-far.txt",
        "xnu/ios-sim-contacts-zh-excerpt.txt",
        "xnu/ips-duetexpertd-ios15-decimal-esr.txt",
    )},
}


def _entries() -> list[dict]:
    if not MANIFEST.exists():
        return []
    return json.loads(MANIFEST.read_text())["reports"]


def _hex(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


def _found(reports) -> list[dict]:
    """Every syndrome found, in order, with the registers printed next to it."""
    out = []
    for r in reports:
        if r.esr is None or r.duplicate_of is not None:
            continue
        regs = dict(r.registers)
        if r.address is not None:
            regs.setdefault("FAR", r.address)
        out.append({"esr": r.esr, "regs": regs, "report": r})
    return out


def _match(expected: list[dict], found: list[dict]) -> list[str]:
    """Problems matching the manifest's syndromes to the found ones, in order."""
    problems = []
    pos = 0
    used: dict[int, set] = {}                # a report printing its ESR twice (block, Oops line) is one report
    for item in expected:
        if "esr" not in item:
            continue
        want = _hex(item["esr"])
        where = item.get("where", "")
        start = pos - 1 if pos and where not in used.get(pos - 1, {where}) else pos
        for i in range(start, len(found)):
            if found[i]["esr"] & 0xFFFFFFFFFFFFFFFF == want:
                used.setdefault(i, set()).add(where)
                break
        else:
            problems.append(f"syndrome {item['esr']} ({item.get('esr_text')!r}) not found; found "
                            f"{[hex(f['esr']) for f in found]}")
            continue
        f = found[i]
        pos = i + 1
        for name in ("far", "hpfar", "par", "elr"):
            if item.get(name) is None or item.get("uncertain"):
                continue
            got = f["regs"].get(name.upper())
            if got != _hex(item[name]):
                problems.append(f"syndrome {item['esr']}: {name.upper()} {item[name]} expected, found "
                                f"{None if got is None else hex(got)}")
    return problems


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["path"])
def test_corpus_report(entry):
    path = CORPUS / entry["path"]
    reports = parse_log(path)
    found = _found(reports)
    problems = _match(entry["expect"], found)
    assert not problems, "\n".join(problems)
    said = [d for f in found for d in f["report"].disagreements]
    wrong = WRONG_DECODES.get(entry["path"])
    if wrong is None:
        assert not said, f"{entry['path']}: the log's own decode disagrees with pgwalk: {said}"
    else:
        assert any(wrong in d for d in said), f"{entry['path']}: expected a disagreement about {wrong!r}, got {said}"


def test_corpus_size_and_wrong_decodes_listed():
    entries = _entries()
    assert len(entries) >= 120
    paths = {e["path"] for e in entries}
    assert set(WRONG_DECODES) <= paths
    print("\nreports whose own decode is wrong:")
    for p, why in sorted(WRONG_DECODES.items()):
        print(f"  {p}: {why}")
