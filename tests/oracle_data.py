"""Access to the real-software oracle data (a QEMU arm64 Linux guest).

The oracle folder is outside the repository; when it is absent the helpers
return ``None`` and the tests that need it skip.  Large artefacts are
decompressed once into ``tests/.cache/`` (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

__all__ = ["ORACLE_DIR", "CACHE_DIR", "linux_oracle_dir", "linux_vmcore_elf", "linux_vmcore_kdump",
           "linux_vmcoreinfo", "linux_translations", "linux_registers",
           "linux16k_oracle_dir", "linux16k_vmcore_elf", "linux16k_vmcoreinfo", "linux16k_translations",
           "linux16k_registers"]

#: override with PGWALK_ORACLE_DIR (the folder holding ``linux-arm64/``)
ORACLE_DIR = pathlib.Path(os.environ.get("PGWALK_ORACLE_DIR", pathlib.Path(__file__).resolve().parents[2] / "shared" / "oracle"))
#: override with PGWALK_CACHE_DIR
CACHE_DIR = pathlib.Path(os.environ.get("PGWALK_CACHE_DIR", pathlib.Path(__file__).resolve().parent / ".cache"))


def linux_oracle_dir() -> pathlib.Path | None:
    """``<oracle>/linux-arm64`` if it exists."""
    d = ORACLE_DIR / "linux-arm64"
    return d if d.is_dir() else None


def linux16k_oracle_dir() -> pathlib.Path | None:
    """``<oracle>/linux-arm64-16k`` (Debian 6.12, 16K pages, 52-bit VA config running 47-bit)."""
    d = ORACLE_DIR / "linux-arm64-16k"
    return d if d.is_dir() else None


def _decompress_once(src: pathlib.Path, out: pathlib.Path, size: int | None, sha: str | None) -> pathlib.Path:
    """``src`` (zstd) decompressed by streaming into ``out`` unless a previous run left it
    there (its size and the recorded checksum stamp still matching)."""
    stamp = out.with_name(out.name + ".sha256")
    st = src.stat()
    key = sha or f"unchecked {st.st_size} {int(st.st_mtime)}"
    if out.is_file() and (size is None or out.stat().st_size == size) \
            and stamp.is_file() and stamp.read_text().strip() in (key, sha or key):
        return out

    import zstandard

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(src, "rb") as fsrc, open(tmp, "wb") as dst:
            reader = zstandard.ZstdDecompressor().stream_reader(fsrc)
            while chunk := reader.read(1 << 22):
                digest.update(chunk)
                dst.write(chunk)
        if sha is not None and digest.hexdigest() != sha:
            raise RuntimeError(f"decompressed {src.name} sha256 {digest.hexdigest()} != expected {sha}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(key + "\n")
    return out


def _expected_elf(oracle: pathlib.Path) -> tuple[int | None, str | None]:
    """(raw_size, raw_sha256) of the ELF dump, from dumps.json if readable."""
    try:
        dumps = json.loads((oracle / "dumps.json").read_text())["dumps"]
    except (OSError, ValueError, KeyError):
        return None, None
    for d in dumps:
        if d.get("stored_as") == "vmcore.elf.zst":
            return d.get("raw_size"), d.get("raw_sha256")
    return None, None


def linux_vmcore_elf() -> pathlib.Path | None:
    """The decompressed ELF vmcore (268 MB), or ``None`` without the oracle.

    Decompressed by streaming into ``tests/.cache/vmcore.elf`` the first time
    (checked against dumps.json's size and sha256), then reused while its size
    and the recorded checksum still match.
    """
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "vmcore.elf.zst").is_file():
        return None
    size, sha = _expected_elf(oracle)
    return _decompress_once(oracle / "vmcore.elf.zst", CACHE_DIR / "vmcore.elf", size, sha)


def linux_vmcore_kdump() -> pathlib.Path | None:
    """The kdump-zlib dump (makedumpfile flattened format), or ``None``."""
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "vmcore.kdump-zlib").is_file():
        return None
    return oracle / "vmcore.kdump-zlib"


def linux_vmcoreinfo() -> str | None:
    """The VMCOREINFO note text (vmcoreinfo.txt), or ``None``."""
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "vmcoreinfo.txt").is_file():
        return None
    return (oracle / "vmcoreinfo.txt").read_text()


def linux_translations() -> list[dict] | None:
    """translations.json ``entries`` (QEMU gva2gpa in four regimes), or ``None``."""
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "translations.json").is_file():
        return None
    return json.loads((oracle / "translations.json").read_text())["entries"]


#: regs.json names that are architectural registers pgwalk knows (gdb calls SCTLR_EL1 "SCTLR")
_ARCH_REGS = ("TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "MAIR_EL1", "SCTLR_EL1",
              "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1")


def linux_registers() -> dict[str, int] | None:
    """The EL1 translation registers of regs.json ``selected`` (ints), or ``None``."""
    oracle = linux_oracle_dir()
    if oracle is None or not (oracle / "regs.json").is_file():
        return None
    return _registers(oracle / "regs.json")


def _registers(path: pathlib.Path) -> dict[str, int]:
    sel = json.loads(path.read_text())["selected"]
    out = {name: int(sel[name], 16) for name in _ARCH_REGS if sel.get(name)}
    if "SCTLR_EL1" not in out and sel.get("SCTLR"):
        out["SCTLR_EL1"] = int(sel["SCTLR"], 16)
    if sel.get("cpsr"):
        out["PSTATE"] = int(sel["cpsr"], 16)
    return out


def linux16k_vmcore_elf() -> pathlib.Path | None:
    """The 16K kernel's decompressed ELF vmcore (512 MiB of RAM), or ``None``.

    The folder has no dumps.json, so the cache (``tests/.cache/vmcore16k.elf``)
    is keyed by the compressed file's size and mtime; zstd's own frame checksum
    guards the decompression.
    """
    oracle = linux16k_oracle_dir()
    if oracle is None or not (oracle / "vmcore.elf.zst").is_file():
        return None
    return _decompress_once(oracle / "vmcore.elf.zst", CACHE_DIR / "vmcore16k.elf", None, None)


def linux16k_vmcoreinfo() -> str | None:
    """The 16K kernel's VMCOREINFO note text, or ``None``."""
    oracle = linux16k_oracle_dir()
    if oracle is None or not (oracle / "vmcoreinfo.txt").is_file():
        return None
    return (oracle / "vmcoreinfo.txt").read_text()


def linux16k_translations() -> list[dict] | None:
    """The 16K kernel's translations.json ``entries``, or ``None``."""
    oracle = linux16k_oracle_dir()
    if oracle is None or not (oracle / "translations.json").is_file():
        return None
    return json.loads((oracle / "translations.json").read_text())["entries"]


def linux16k_registers() -> dict[str, int] | None:
    """The 16K kernel's EL1 translation registers from regs.json, or ``None``."""
    oracle = linux16k_oracle_dir()
    if oracle is None or not (oracle / "regs.json").is_file():
        return None
    return _registers(oracle / "regs.json")
