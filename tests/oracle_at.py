"""Load the QEMU AT oracle (../shared/oracle/qemu-at): vectors and their memory."""

from __future__ import annotations

import functools
import json
import lzma
import os
import struct
from pathlib import Path

ORACLE = Path(os.environ.get("PGWALK_ORACLE", Path(__file__).resolve().parents[2] / "shared" / "oracle"))
QEMU_AT = ORACLE / "qemu-at"
RAM = (0x40000000, 0xC0000000)
#: The ID register the MANIFEST says to replay the vectors with
MMFR0 = 0x32310201126


def available() -> bool:
    return (QEMU_AT / "vectors").is_dir()


def batches() -> list[str]:
    return sorted(p.name[: -len(".jsonl.xz")] for p in (QEMU_AT / "vectors").glob("*.jsonl.xz"))


@functools.lru_cache(maxsize=None)
def words(batch: str) -> dict[int, int]:
    with lzma.open(QEMU_AT / "mem" / f"{batch}.words.xz", "rb") as f:
        data = f.read()
    return dict(struct.iter_unpack("<QQ", data))


def vectors(batch: str) -> list[dict]:
    with lzma.open(QEMU_AT / "vectors" / f"{batch}.jsonl.xz", "rt") as f:
        return [json.loads(line) for line in f]


def registers(vector: dict) -> dict[str, int]:
    regs = {k.upper(): int(v, 16) for k, v in vector["regs"].items()}
    regs["ID_AA64MMFR0_EL1"] = MMFR0
    regs["ID_AA64MMFR1_EL1"] = 0x11010211122
    regs["ID_AA64MMFR2_EL1"] = 0x1021011010011011
    return regs


def memory(batch: str):
    from pgwalk.memory import PhysicalMemory

    return PhysicalMemory.from_words(words(batch), RAM)


# --------------------------------------------------------------------------- qemu-at-regimes

#: The EL2 / EL2&0 / EL3 / hardware AF oracle (QEMU 10, harness at EL3): MANIFEST.md there
QEMU_AT_REGIMES = ORACLE / "qemu-at-regimes" / "vectors-and-memory"
#: The ID registers of its ``-cpu max`` (MANIFEST "ID registers" banner)
REGIMES_ID_REGS = {
    "ID_AA64MMFR0_EL1": 0x2100032310201126, "ID_AA64MMFR1_EL1": 0x0110112010312122,
    "ID_AA64MMFR2_EL1": 0x1221011112011011, "ID_AA64ISAR1_EL1": 0x0111211110211502,
}


def regimes_available() -> bool:
    return (QEMU_AT_REGIMES / "vectors").is_dir()


def regimes_batches() -> list[str]:
    return sorted(p.name[: -len(".jsonl.xz")] for p in (QEMU_AT_REGIMES / "vectors").glob("*.jsonl.xz"))


@functools.lru_cache(maxsize=None)
def regimes_words(batch: str) -> dict[int, int]:
    with lzma.open(QEMU_AT_REGIMES / "mem" / f"{batch}.words.xz", "rb") as f:
        data = f.read()
    return dict(struct.iter_unpack("<QQ", data))


def regimes_vectors(batch: str) -> list[dict]:
    with lzma.open(QEMU_AT_REGIMES / "vectors" / f"{batch}.jsonl.xz", "rt") as f:
        return [json.loads(line) for line in f]


def regimes_registers(vector: dict) -> dict[str, int]:
    regs = {k.upper(): int(v, 16) for k, v in vector["regs"].items()}
    regs.update(REGIMES_ID_REGS)
    return regs


def regimes_memory(batch: str):
    from pgwalk.memory import PhysicalMemory

    return PhysicalMemory.from_words(regimes_words(batch), RAM)


def block_oa_beyond(setup, t) -> bool:
    """``t`` (a :class:`pgwalk.walk.Translation`) ends with an Address size fault on a block whose
    base is inside the output size: the block is larger than the output address space and the
    output address (ASL StageOA) is beyond it.  QEMU checks only the base (both oracles)."""
    from pgwalk.faults import FaultType
    from pgwalk.params import oa_out_of_range

    f = t.fault
    if f is None or f.type is not FaultType.ADDRESS_SIZE:
        return False
    step = next((s for s in reversed(t.steps) if s.stage == f.stage and s.level == f.level and s.raw is not None), None)
    if step is None or step.kind != "block":
        return False
    p = setup.s2 if f.stage == 2 else setup.s1_params(t.va)
    return not oa_out_of_range(step.next_addr, p.oa_bits)
