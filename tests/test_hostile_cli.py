"""Every command on hostile input, through the real CLI entry (issue 8).

* Any input file, register file, register value, VA, batch file or kernel log: exit 0, 1 or 2,
  never a traceback, one ``pgwalk: error:`` line for a bad input; ``--debug`` shows the traceback.
* Never a hang: hostile tables (a table shared at every level, a mesh of tables), overlong log
  lines, all in a subprocess with a timeout.
* Memory bounded whatever the headers claim (a PT_LOAD of 1 EiB, a note of 4 GiB, a kdump
  header declaring 2^40 pages, a bitmap larger than the file, a zstd page claiming 1 GiB):
  subprocesses under ``RLIMIT_AS``.
* Inputs are opened read-only and never modified (content and mtime unchanged after every
  command; read-only files work; no code path opens a file for writing but the writers).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pgwalk.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import seeds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "tests" / "data" / "kernlogs"
VA = hex(seeds.PROBE_VAS[1])


def cli(*argv: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    """``pgwalk ARGV`` in-process (no --debug): status, stdout, stderr; checks the contract."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    if stdin is not None:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in argv])
    finally:
        sys.stdin = old
    e = err.getvalue()
    assert rc in (0, 1, 2), (argv, rc, e)
    assert "Traceback" not in e and "Traceback" not in out.getvalue(), (argv, e)
    errors = [line for line in e.splitlines() if line.startswith("pgwalk: error:")]
    if rc == 2:
        assert len(errors) == 1, (argv, e)
        assert errors[0].strip() != "pgwalk: error:", (argv, e)
    else:
        assert not errors, (argv, e)
    return rc, out.getvalue(), e


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------

def _write(d: Path, name: str, data: bytes | str) -> Path:
    p = d / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    mem, regs = seeds.mini_kernel()
    elf = seeds.elf_seeds()[0]
    kdump, flat = seeds.kdump_seeds()[0], seeds.flat_seeds()[0]
    rnd = np.random.default_rng(8).integers(0, 256, 8192, dtype=np.uint8).tobytes()
    p = {
        # images
        "elf": _write(d, "core.elf", elf), "kdump": _write(d, "dump.kdump", kdump), "flat": _write(d, "dump.flat", flat),
        "raw": _write(d, "mem.raw", mem), "empty": _write(d, "empty", b""), "dir": d,
        "missing": d / "no-such-file", "elf-magic": _write(d, "magic", b"\x7fELF\x02\x01"),
        "elf-header": _write(d, "hdr.elf", elf[:64]), "elf-phdrs": _write(d, "phdrs.elf", elf[:64 + 56 * 2]),
        "garbage": _write(d, "garbage.bin", rnd), "kdump-sig": _write(d, "sig.kdump", b"KDUMP   "),
        "flat-sig": _write(d, "sig.flat", b"makedumpfile".ljust(16, b"\0")),
        "kdump-half": _write(d, "half.kdump", kdump[:len(kdump) // 2]),
        "flat-half": _write(d, "half.flat", flat[:len(flat) // 2]), "devnull": Path(os.devnull),
        # register files
        "regs": _write(d, "regs.json", json.dumps({k: hex(v) for k, v in regs.items()})),
        "regs-toml": _write(d, "regs.toml", "".join(f"{k} = {v:#x}\n" for k, v in regs.items())),
        "regs-badjson": _write(d, "bad.json", '{"TCR_EL1": 0x12'), "regs-list": _write(d, "list.json", "[1, 2]"),
        "regs-unknown": _write(d, "unknown.json", '{"TCR_EL9": 1}'),
        "regs-big": _write(d, "big.json", '{"TCR_EL1": "0x1ffffffffffffffff"}'),
        "regs-neg": _write(d, "neg.json", '{"TCR_EL1": -1}'), "regs-float": _write(d, "float.json", '{"TCR_EL1": 1.5}'),
        "regs-deep": _write(d, "deep.json", "[" * 100000 + "]" * 100000),
        "regs-deep-toml": _write(d, "deep.toml", "a = " + "[" * 100000 + "]" * 100000),
        "regs-dup": _write(d, "dup.json", '{"TCR_EL1": 1, "tcr_el1": 2}'),
        "regs-binary": _write(d, "bin.json", rnd[:512]), "regs-empty": _write(d, "empty.json", b""),
        "regs-badtoml": _write(d, "bad.toml", "TCR_EL1 = = 1"), "regs-digits": _write(d, "digits.json", '{"TCR_EL1": "' + "1" * 5000 + '"}'),
        # batch files
        "batch": _write(d, "vas.txt", "\n".join(hex(v) for v in seeds.PROBE_VAS * 10) + "\n"),
        "batch-bad": _write(d, "bad.txt", "0x1000\nnot-an-address\n"),
        "batch-binary": _write(d, "bin.txt", rnd), "batch-empty": _write(d, "empty.txt", ""),
        "batch-long": _write(d, "long.txt", "0x" + "f" * 100000 + "\n"),
        "batch-big": _write(d, "bigvas.txt", "\n".join(["0x1ffffffffffffffff"] * 100) + "\n"),
        "batch-nul": _write(d, "nul.txt", "0x1000\n\0\0\0\n" * 40),
        # AT batches (JSON Lines)
        "at-batch": _write(d, "at.jsonl", "\n".join(json.dumps({"op": "S1E1R", "va": hex(v), "par": "0x800"})
                                                    for v in seeds.PROBE_VAS) + "\n"),
        "at-badjson": _write(d, "at-bad.jsonl", '{"op": "S1E1R", "va": \n'),
        "at-notobj": _write(d, "at-list.jsonl", "[1, 2]\n"),
        "at-badop": _write(d, "at-op.jsonl", '{"op": 5, "va": "0x1"}\n{"op": "S9E9R", "va": 1}\n'),
        "at-badva": _write(d, "at-va.jsonl", '{"op": "S1E1R", "va": "0x1ffffffffffffffff"}\n'),
        "at-badregs": _write(d, "at-regs.jsonl", '{"op": "S1E1R", "va": 1, "regs": {"TCR_EL9": 1}}\n'
                                                  '{"op": "S1E1R", "va": 1, "regs": [1]}\n'),
        "at-badpar": _write(d, "at-par.jsonl", '{"op": "S1E1R", "va": 1, "par": "maybe"}\n'),
        "at-binary": _write(d, "at-bin.jsonl", rnd),
        "at-deep": _write(d, "at-deep.jsonl", "[" * 100000 + "\n"),
        # kernel logs
        "log": LOGS / "debian-6.1-qemu.log", "log-garbled": LOGS / "garbled-truncated.log",
        "log-binary": _write(d, "bin.log", rnd),
        "log-longline": _write(d, "long.log", "Unable to handle kernel " * 20000 + "\n[1.0] pgd=" * 1000),
        "log-nul": _write(d, "nul.log", b"\0" * 10000 + (LOGS / "debian-6.1-qemu.log").read_bytes()),
    }
    return p


IMAGES = ["elf", "kdump", "flat", "raw", "empty", "dir", "missing", "elf-magic", "elf-header", "elf-phdrs",
          "garbage", "kdump-sig", "flat-sig", "kdump-half", "flat-half", "devnull"]


def _image_commands(img: Path, p: dict[str, Path]) -> list[list]:
    regs = p["regs"]
    return [
        ["info", img], ["info", "--json", "--all-regions", img],
        ["translate", "-i", img, VA], ["translate", "-i", img, "--regs", regs, VA, "0x1234", "--json"],
        ["translate", "-i", img, "--regs", regs, "--batch", p["batch"], "--no-trace"],
        ["translate", "-i", img, "--regs", regs, "--batch", p["batch"], "--csv", "--scalar"],
        ["translate", "-i", img, "--regs", regs, "--reverse", "0x2000", "0x8000"],
        ["dump-tree", "-i", img, "--regs", regs, "--max-tables", "50"],
        ["dump-tree", "-i", img, "--json", "--max-tables", "50", "--view", "tree"],
        ["dump-tree", "-i", img, "--regs", regs, "--stats"],
        ["at", "S1E1R", VA, "-i", img, "--regs", regs, "--hw-par", "0x1234000"],
        ["at", "S1E1R", VA, "-i", img, "--hw-par", "0x800", "--json"],
        ["at", "--batch", p["at-batch"], "-i", img, "--regs", regs, "--json"],
        ["vtop", img, VA, "0xffff000000001000"], ["ptov", img, "0x2000", "0x40000000"],
        # issue 11: absurd and user addresses, PAs beyond every size, unknown TTBR0/MAIR
        ["vtop", img, "--json", "0x0", "0xffffffffffffffff", "0xf3ff000000001000", "0x8000000000000000"],
        ["ptov", img, "--json", "0xffffffffffffffff", "0x0", "0x10000000000000"],
        ["translate", "-i", img, "--json", "0x1000", VA], ["dump-tree", "-i", img, "--ttbr0", "--stats"],
        ["translate", "-i", img, "--reg", "TCR_EL1=0x10", "--reg", "TTBR0_EL1=0", "0x1000"],
        ["decode-esr", "--log", p["log"], "--image", img, "--json"],
    ]


@pytest.mark.parametrize("name", IMAGES)
def test_every_command_on_every_image(inputs, name):
    for argv in _image_commands(inputs[name], inputs):
        rc, out, err = cli(*argv)
        if name in ("empty", "dir", "missing", "elf-magic", "elf-header", "kdump-sig", "flat-sig",
                    "devnull") and argv[0] in ("info", "translate", "dump-tree", "vtop", "ptov"):
            assert rc == 2, (argv, out, err)


def test_bad_inputs_are_named_in_the_message(inputs):
    p = inputs
    for name, text in [("empty", "the file is empty"), ("missing", "no such file"), ("dir", "is a directory"),
                       ("elf-header", "program header table"), ("elf-magic", "broken ELF header"),
                       ("kdump-sig", "truncated"), ("flat-sig", "makedumpfile header"),
                       ("devnull", "the file is empty")]:
        rc, _out, err = cli("info", p[name])
        assert rc == 2 and str(p[name]) in err
        if text:
            assert text in err, err
    rc, out, err = cli("info", p["garbage"])          # no signature: a raw image, mapped at 0
    rc, out, _ = cli("info", "--json", p["garbage"])
    assert rc == 0 and json.loads(out)["format"] == "raw"


REG_FILES = ["regs", "regs-toml", "regs-badjson", "regs-list", "regs-unknown", "regs-big", "regs-neg", "regs-float",
             "regs-deep", "regs-deep-toml", "regs-dup", "regs-binary", "regs-empty", "regs-badtoml", "regs-digits", "missing", "dir",
             "elf"]


@pytest.mark.parametrize("name", REG_FILES)
def test_register_files(inputs, name):
    rc, out, err = cli("translate", "-i", inputs["raw"], "--regs", inputs[name], VA)
    if name in ("regs", "regs-toml"):
        assert rc == 0
    else:
        assert rc == 2
        assert str(inputs[name]) in err or "--regs" in err
    cli("dump-tree", "-i", inputs["raw"], "--regs", inputs[name], "--max-tables", "10")
    cli("at", "S1E1R", VA, "-i", inputs["raw"], "--regs", inputs[name])


@pytest.mark.parametrize("reg", ["TCR_EL1", "=1", "FOO=1", "TCR_EL1=zz", "TCR_EL1=-1", "TCR_EL1=0x" + "1" * 20,
                                 "TCR_EL1=", "TTBR1_EL1=1x5", "tcr_el1 = 0x10", "TCR_EL1=0x1=2", "PSTATE=\0",
                                 "TCR_EL1=" + "9" * 5000])
def test_register_values(inputs, reg):
    rc, _out, err = cli("translate", "-i", inputs["raw"], "--regs", inputs["regs"], "--reg", reg, VA)
    if reg == "tcr_el1 = 0x10":
        assert rc in (0, 1)
    else:
        assert rc == 2 and "--reg" in err


@pytest.mark.parametrize("va", ["zz", "-1", "0x1ffffffffffffffff", "", " ", "0x", "1e5", "0b102", "0x-1",
                                "9" * 5000, "\0", "0x1_0000", "ffff8000_00000000"])
def test_addresses(inputs, va):
    img, regs = inputs["raw"], inputs["regs"]
    for argv in (["translate", "-i", img, "--regs", regs, va], ["translate", "-i", img, "--regs", regs, "--reverse", va],
                 ["at", "S1E1R", va, "-i", img, "--regs", regs], ["vtop", inputs["elf"], va], ["ptov", inputs["elf"], va],
                 ["decode-esr", va], ["decode-esr", "0x96000045", "--far", va], ["decode", "TCR_EL1", va],
                 ["dump-tree", "-i", img, "--regs", regs, "--range", f"{va}-0x2000"],
                 ["translate", "-i", f"{img}@{va}", "--regs", regs, "0x1000"]):
        cli(*argv)


@pytest.mark.parametrize("name", ["batch", "batch-bad", "batch-binary", "batch-empty", "batch-long", "batch-big",
                                  "batch-nul", "missing", "dir"])
def test_translate_batches(inputs, name):
    img, regs = inputs["raw"], inputs["regs"]
    for extra in ([], ["--json"], ["--no-trace"], ["--csv"], ["--reverse"]):
        rc, out, err = cli("translate", "-i", img, "--regs", regs, "--batch", inputs[name], *extra)
        if name not in ("batch", "batch-nul"):
            assert rc == 2, (name, extra, err)
            assert str(inputs[name]) in err or "address" in err or "batch" in err, err


@pytest.mark.parametrize("name", ["at-batch", "at-badjson", "at-notobj", "at-badop", "at-badva", "at-badregs",
                                  "at-badpar", "at-binary", "at-deep", "missing", "batch-empty"])
def test_at_batches(inputs, name):
    for extra in ([], ["--json"], ["--explain", "full"]):
        rc, _out, err = cli("at", "--batch", inputs[name], "-i", inputs["raw"], "--regs", inputs["regs"], *extra)
        if name not in ("at-batch", "batch-empty"):
            assert rc == 2, (name, err)


@pytest.mark.parametrize("name", ["log", "log-garbled", "log-binary", "log-longline", "log-nul", "missing",
                                  "elf", "empty"])
def test_kernel_logs(inputs, name):
    for extra in ([], ["--json"], ["--linux"], ["--image", inputs["raw"]], ["--image", inputs["garbage"]],
                  ["--image", inputs["missing"]]):
        rc, _out, err = cli("decode-esr", "--log", inputs[name], *extra)
        if name == "missing" or extra[-1:] == [inputs["missing"]]:
            assert rc == 2
    rc, _out, _err = cli("decode-esr", "--log", "-", stdin="\0\1\2 Unable to handle kernel " * 1000)


def test_usage_errors_are_one_line(inputs):
    for argv in (["nosuch"], ["translate", "--stages", "3", "0x1"], ["dump-tree", "--max-tables", "0"],
                 ["translate", "-i", inputs["raw"], "--regs", inputs["dir"], "0x1"], ["info"], ["at", "--explain", "x"],
                 ["translate", "--el", "9", "0x1"], ["decode-esr", "--el", "7", "1"]):
        rc, _out, err = cli(*argv)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err


def test_debug_shows_the_traceback(inputs):
    code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
    for debug, argv in ((False, ["info", str(inputs["missing"])]), (True, ["--debug", "info", str(inputs["missing"])]),
                        (True, ["--debug", "translate", "-i", str(inputs["raw"]), "--reg", "FOO=1", "0x1"])):
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        if debug:
            assert "Traceback" in r.stderr and ("ImageError" in r.stderr or "RegisterError" in r.stderr)
        else:
            assert r.returncode == 2 and "Traceback" not in r.stderr
            assert r.stderr.strip().startswith("pgwalk: error:") and len(r.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------
# never a hang
# --------------------------------------------------------------------------

def _run(argv: list, *, timeout: float, limit_mb: int | None = None, stdin: str | None = None):
    """``pgwalk ARGV`` in a subprocess with a timeout (and an address-space limit)."""
    def limit():
        if limit_mb:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                       timeout=timeout, preexec_fn=limit, env=env, input=stdin)
    r.seconds = time.monotonic() - t0
    assert r.returncode in (0, 1, 2), (argv, r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr, (argv, r.stderr[-2000:])
    return r


@pytest.fixture(scope="module")
def hostile_trees(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("trees")
    one = np.zeros(0x2000 // 8, dtype="<u8")
    one[0x1000 // 8:] = 0x1000 | 3                   # one table, every entry pointing at itself
    (d / "shared.img").write_bytes(one.tobytes())
    n = 96                                            # a mesh: table i entry j -> table (7i + j) % n
    i = np.arange(n, dtype=np.uint64)[:, None]
    j = np.arange(512, dtype=np.uint64)[None, :]
    mesh = ((((i * 7 + j) % n) + 1) * 0x1000) | 3
    (d / "mesh.img").write_bytes(bytes(0x1000) + mesh.astype("<u8").tobytes())
    regs = {"TCR_EL1": "0x5b5103510", "TTBR0_EL1": "0x1000", "TTBR1_EL1": "0x1000", "MAIR_EL1": "0xff",
            "SCTLR_EL1": "0x1", "ID_AA64MMFR0_EL1": "0x5"}
    (d / "regs.json").write_text(json.dumps(regs))
    (d / "vas.txt").write_text("\n".join(hex(v) for v in range(0, 1 << 47, (1 << 47) // 5000)) + "\n")
    return {"shared": d / "shared.img", "mesh": d / "mesh.img", "regs": d / "regs.json", "vas": d / "vas.txt"}


@pytest.mark.parametrize("tree", ["shared", "mesh"])
def test_hostile_trees_end_in_bounded_time(hostile_trees, tree):
    img, regs = hostile_trees[tree], hostile_trees["regs"]
    r = _run(["dump-tree", "-i", img, "--regs", regs, "--json"], timeout=240)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["record"] == "summary" and summary["references"] > 0
    r = _run(["dump-tree", "-i", img, "--regs", regs, "--max-tables", "3"], timeout=120)
    assert r.returncode == 1 and "stopped after 3 tables" in r.stdout, r.stdout[-500:]
    r = _run(["dump-tree", "-i", img, "--regs", regs, "--max-entries", "1000", "--json"], timeout=120)
    assert r.returncode == 1 and "limit" in r.stderr
    r = _run(["translate", "-i", img, "--regs", regs, "--reverse", "0x1000"], timeout=120)
    assert r.returncode in (1, 2) and r.seconds < 60
    r = _run(["translate", "-i", img, "--regs", regs, "--batch", hostile_trees["vas"], "--json"], timeout=120)
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 5001
    r = _run(["at", "S1E1R", "0x1234", "-i", img, "--regs", regs, "--hw-par", "0x7000"], timeout=120)
    assert r.returncode == 1


def test_overlong_log_lines_are_scanned_in_linear_time(tmp_path):
    log = tmp_path / "long.log"
    unit = "a[1]: unhandled exception: Unable to handle kernel [[[[ Internal error: pgtable: "
    log.write_text(unit * ((4 << 20) // len(unit)) + "\n" + "unhandled exception: ESR\n" * 20000)
    r = _run(["decode-esr", "--log", log], timeout=120)
    assert r.seconds < 60


# --------------------------------------------------------------------------
# bounded memory, whatever the headers claim
# --------------------------------------------------------------------------

def _elf_patch(data: bytes, phdr: int, **fields) -> bytes:
    b = bytearray(data)
    offs = {"p_type": 0, "p_offset": 8, "p_paddr": 24, "p_filesz": 32, "p_memsz": 40}
    for k, v in fields.items():
        if k == "p_type":
            struct.pack_into("<I", b, 64 + 56 * phdr, v)
        else:
            struct.pack_into("<Q", b, 64 + 56 * phdr + offs[k], v)
    return bytes(b)


def _kdump_patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, at, value)
    return bytes(b)


@pytest.fixture(scope="module")
def claims(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("claims")
    elf = seeds.elf_seeds()[0]                       # PT_NOTE is phdr 0, PT_LOAD phdr 1
    kd = seeds.kdump_seeds()[1]                      # uncompressed, block size 1024
    bs = 1024
    out = {
        "elf-load-1eib-memsz": _elf_patch(elf, 1, p_memsz=1 << 60),
        "elf-load-1eib-filesz": _elf_patch(elf, 1, p_filesz=1 << 60, p_memsz=1 << 60),
        "elf-load-top": _elf_patch(elf, 1, p_paddr=(1 << 64) - 0x1000, p_memsz=1 << 60),
        "elf-note-4gib": _elf_patch(elf, 0, p_filesz=4 << 30),
        "elf-note-1eib-offset": _elf_patch(elf, 0, p_offset=1 << 60),
        "elf-phnum-xnum": _kdump_patch(elf, 56, "<H", 0xFFFF),
        "elf-phoff-huge": _kdump_patch(elf, 32, "<Q", (1 << 64) - 8),
        # kdump: header at 0 (block_size @0x1ac, sub_hdr_size @0x1b0, bitmap_blocks @0x1b4, max_mapnr @0x1b8);
        # sub-header at block 1 (offset_vmcoreinfo +32, size +40, offset_note +48, size +56, max_mapnr_64 +96)
        "kdump-2^40-pages": _kdump_patch(kd, bs + 96, "<Q", 1 << 40),
        "kdump-bitmap-blocks": _kdump_patch(kd, 0x1B4, "<I", 0xFFFFFFFE),
        "kdump-bitmap-beyond-file": _kdump_patch(_kdump_patch(kd, 0x1B4, "<I", 1 << 20), bs + 96, "<Q", 1 << 30),
        "kdump-note-4gib": _kdump_patch(kd, bs + 56, "<Q", 4 << 30),
        "kdump-vmcoreinfo-4gib": _kdump_patch(kd, bs + 40, "<Q", 4 << 30),
        "kdump-sub-hdr": _kdump_patch(kd, 0x1B0, "<i", 1 << 20),
        "kdump-block-16m": _kdump_patch(kd, 0x1AC, "<i", 1 << 24),
    }
    flat = bytearray(seeds.flat_seeds()[0])
    struct.pack_into(">qq", flat, 4096, 0, 1 << 47)   # first record claims 128 TiB
    out["flat-record-128tib"] = bytes(flat)
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:                        # one page whose zstd frame announces 1 GiB
        from pgwalk.kdump import write_kdump

        mem, _ = seeds.mini_kernel()
        p = d / "zstd.kdump"
        write_kdump(p, {i: mem[i * 4096:(i + 1) * 4096] for i in range(9)}, compression="zstd",
                    vmcoreinfo=seeds.MINI_VMCOREINFO)
        data = bytearray(p.read_bytes())
        cobj = zstandard.ZstdCompressor().compressobj(size=1 << 28)      # 8 KiB announcing 256 MiB
        bomb = b"".join([cobj.compress(bytes(1 << 20)) for _ in range(256)] + [cobj.flush()])
        assert len(bomb) < 2 * 4096 + 4096
        from pgwalk.kdump import open_kdump

        with open_kdump(p) as dump:
            desc_at = dump.desc_offset + 2 * 24          # the 3rd page: the kernel's root table
        struct.pack_into("<qII", data, desc_at, len(data), len(bomb), 0x20)
        out["kdump-zstd-bomb"] = bytes(data) + bomb
    paths = {}
    for name, blob in out.items():
        paths[name] = d / name
        paths[name].write_bytes(blob)
    return paths



CLAIMS = ["elf-load-1eib-memsz", "elf-load-1eib-filesz",
          "elf-load-top",
          "elf-note-4gib", "elf-note-1eib-offset",
          "elf-phnum-xnum", "elf-phoff-huge", "kdump-2^40-pages", "kdump-bitmap-blocks", "kdump-bitmap-beyond-file",
          "kdump-note-4gib", "kdump-vmcoreinfo-4gib", "kdump-sub-hdr", "kdump-block-16m", "flat-record-128tib",
          "kdump-zstd-bomb"]


@pytest.mark.parametrize("name", CLAIMS)
def test_memory_is_bounded_whatever_the_headers_claim(claims, name):
    if name not in claims:
        pytest.skip("zstandard is not installed")
    p = claims[name]
    regs = ["--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000", "--reg", "SCTLR_EL1=1"]
    for argv in (["info", p], ["info", "--json", p], ["translate", "-i", p, *regs, VA, "0xffff800000002000"],
                 ["translate", "-i", p, VA], ["dump-tree", "-i", p, *regs, "--max-tables", "50", "--json"],
                 ["translate", "-i", p, *regs, "--reverse", "0x2000"]):
        r = _run(argv, timeout=120, limit_mb=1024)
        if r.returncode == 2:
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    if name == "kdump-zstd-bomb":
        r = _run(["translate", "-i", p, *regs, "0xffff800000002000"], timeout=120, limit_mb=1024)
        assert "zstd frame announces 268435456 bytes" in r.stdout, r.stdout


# --------------------------------------------------------------------------
# inputs are never modified
# --------------------------------------------------------------------------

def _state(paths) -> dict:
    out = {}
    for p in paths:
        p = Path(p)
        if p.is_file():
            st = p.stat()
            out[p] = (st.st_mtime_ns, st.st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def test_inputs_are_never_modified(inputs, tmp_path):
    files = [v for v in inputs.values() if Path(v).is_file() and Path(v).parent != LOGS and v != Path(os.devnull)]
    ro = []
    for f in (inputs["elf"], inputs["kdump"], inputs["flat"], inputs["raw"], inputs["regs"], inputs["batch"]):
        c = tmp_path / f"ro-{f.name}"
        c.write_bytes(f.read_bytes())
        c.chmod(0o444)                                 # read-only files work the same
        ro.append(c)
    before = _state(files + ro)
    for img in (inputs["elf"], inputs["kdump"], inputs["flat"], inputs["raw"], *ro[:4]):
        for argv in _image_commands(img, inputs):
            cli(*argv)
    rc, _out, _err = cli("translate", "-i", ro[0], "--regs", ro[4], "--batch", ro[5], "--json")
    assert rc in (0, 1)
    assert _state(files + ro) == before


WRITE = re.compile(r"""open\([^)]*["'](?:w|a|x|r\+|wb|ab|xb|rb\+|r\+b|w\+|w\+b)["']|ACCESS_WRITE|ACCESS_COPY|O_RDWR|"""
                   r"""O_WRONLY|O_APPEND|O_CREAT|O_TRUNC|write_bytes|write_text|os\.truncate|\.truncate\(""")
#: the only places that write files: the dump writer and the page-table builder (tests and samples),
#: both given an output path by their caller, and the console script's quiet exit on a closed pipe
#: (stdout pointed at /dev/null), and the decompressed copy of a compressed image
WRITERS = {("pgwalk/kdump.py", "write_kdump"), ("pgwalk/builder.py", "TableBuilder"), ("pgwalk/builder.py", "TwoStage"),
           ("pgwalk/builder.py", "write_image"), ("pgwalk/__main__.py", "run"),
           ("pgwalk/inputs.py", "decompress_to_temp")}  # a fresh temporary file (mkstemp), never an input


def test_no_code_path_opens_an_input_for_writing():
    found = set()
    for path in sorted((ROOT / "pgwalk").rglob("*.py")) + sorted((ROOT / "formats").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        func = "<module>"
        for line in path.read_text().splitlines():
            m = re.match(r"(?:def|class) (\w+)", line)        # top-level functions and classes
            if m:
                func = m.group(1)
            if WRITE.search(line) and not line.lstrip().startswith("#"):
                found.add((rel, func))
    assert found <= WRITERS, found - WRITERS


def test_region_at_the_top_of_the_address_space(claims):
    """Every command takes a PT_LOAD clipped at 2^64."""
    p = claims["elf-load-top"]
    regs = ["--reg", "TCR_EL1=0x5b5103510", "--reg", "TTBR1_EL1=0x2000", "--reg", "SCTLR_EL1=1"]
    for argv in (["info", p], ["translate", "-i", p, *regs, VA], ["dump-tree", "-i", p, *regs, "--max-tables", "9"],
                 ["at", "S1E1R", VA, "-i", p, *regs]):
        rc, out, err = cli(*argv)
        assert rc in (0, 1)
    rc, out, err = cli("info", "--json", p)
    assert any("runs past the 64-bit physical address space; clipped" in w for w in json.loads(out)["warnings"])


def test_bulk_reader_on_a_region_at_the_top_of_the_address_space():
    from pgwalk.bulk import DescriptorReader
    from pgwalk.memory import PhysicalMemory

    import numpy as np

    top = (1 << 64) - 0x1000
    data = bytearray(0x1000)
    data[-8:] = (0x1122334455667788).to_bytes(8, "little")
    reader = DescriptorReader(PhysicalMemory.from_buffers({top: bytes(data)}))
    val, present = reader.read(np.array([(1 << 64) - 8, top, 0x1000], dtype=np.uint64), False)
    assert int(val[0]) == 0x1122334455667788 and int(val[1]) == 0
    assert present is not None and present.tolist() == [True, True, False]
