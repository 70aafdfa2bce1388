"""Compressed inputs: ``info`` states both sizes; compressed stdin is read decompressed.

* ``info`` on a compressed dump gives the dump's size (decompressed) and the file's (on
  disk, compressed), each named, in text and JSON; nothing names the temporary copy.
* ``-`` (``translate --batch -``, ``at --batch -``, ``decode-esr --log -``) recognises gzip,
  xz, bzip2 and zstd by their magic bytes and reads the stream decompressed, as for files;
  a stream cut short is one ``pgwalk: error: <stdin>: ...`` line, exit status 2, never a
  shorter result.  Plain text on a pipe is read as before (the log reader's idle detection
  on its descriptor included).
* A zstd file cut inside a frame is refused (zstandard's reader returns what it has).
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pgwalk.formats import elf
from pgwalk.inputs import compression_of, read_head
from cli_helpers import compress
from test_hostile_cli import cli
from test_memory import NOTES, make_core, pack_notes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "s1_4k_48bit.img"
REGS = ROOT / "samples" / "s1_4k_48bit.regs.json"
LOG = ROOT / "tests" / "data" / "kernlogs" / "debian-6.1-qemu.log"
IMAGE = ["-i", f"{SAMPLE}@0x40000000", "--regs", str(REGS)]
KINDS = ["gzip", "xz", "bzip2", "zstd"]


def _cli(argv, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``pgwalk ARGV`` in-process with ``stdin`` bytes (the contract checks of test_hostile_cli.cli)."""
    return cli(*argv, stdin=stdin)


@pytest.fixture(scope="module")
def core(tmp_path_factory) -> Path:
    """A small ELF core: the 4K sample's memory as one PT_LOAD, and notes with a VMCOREINFO."""
    d = tmp_path_factory.mktemp("core")
    return make_core(d / "core.elf", [dict(type=elf.PT_NOTE, data=pack_notes(NOTES)),
                                      dict(paddr=0x40000000, data=SAMPLE.read_bytes())])


# --------------------------------------------------------------------------- info: both sizes

@pytest.mark.parametrize("kind", KINDS)
def test_info_on_a_compressed_core_states_both_sizes(core, kind, tmp_path):
    packed = tmp_path / "core.packed"                  # by magic, whatever the name
    packed.write_bytes(compress(kind, core.read_bytes()))
    on_disk, dump = packed.stat().st_size, core.stat().st_size
    assert on_disk < dump
    rc, out, err = _cli(["info", "--json", packed])
    assert rc == 0
    d = json.loads(out)
    assert (d["file_size"], d["dump_size"], d["file_compression"]) == (on_disk, dump, kind)
    assert d["format"] == "elf" and d["compression"] == []
    plain = json.loads(_cli(["info", "--json", core])[1])
    assert (plain["file_size"], plain["dump_size"], plain["file_compression"]) == (dump, dump, None)
    assert plain["memory"] == d["memory"] and plain["notes"] == d["notes"]
    rc, text, err = _cli(["info", packed])
    head = text.splitlines()[0]
    assert f"({dump} bytes) decompressed; the file is {kind}-compressed, {on_disk} bytes on disk" in head
    assert f"the file as a whole is {kind}-compressed" in text
    assert "pgwalk-" not in text + out                    # the temporary copy is never named
    rc, text, _ = _cli(["info", core])
    assert text.splitlines()[0].endswith(f"({dump} bytes)") and "compressed" not in text.splitlines()[0]


def test_info_on_a_compressed_raw_image(tmp_path):
    packed = tmp_path / "mem.xz"
    packed.write_bytes(lzma.compress(SAMPLE.read_bytes()))
    rc, out, _ = _cli(["info", "--json", packed])
    d = json.loads(out)
    assert d["format"] == "raw" and d["file_compression"] == "xz"
    assert d["dump_size"] == SAMPLE.stat().st_size == d["memory"]["total"]
    assert d["file_size"] == packed.stat().st_size


def test_info_json_validates_against_its_schema(core, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from pgwalk.jsonrecords import schema_text

    packed = tmp_path / "core.gz"
    packed.write_bytes(gzip.compress(core.read_bytes()))
    schema = json.loads(schema_text("info"))
    for p in (core, packed):
        jsonschema.validate(json.loads(_cli(["info", "--json", p])[1]), schema)


# --------------------------------------------------------------------------- magic bytes

@pytest.mark.parametrize("kind", KINDS)
def test_magic_is_recognised_from_the_head(kind):
    data = compress(kind, b"0x1000\n")
    assert compression_of(data[:8]) == kind
    chunks = iter([data[:1], data[1:3], data[3:]])         # a pipe delivering a few bytes at a time
    head = read_head(lambda n: next(chunks, b"")[:n])
    assert compression_of(head) == kind


def test_text_head_is_not_waited_for():
    """A text stream's first byte rules compression out: nothing more is read before the log
    reader takes over (a live ``dmesg -w`` pipe delivering a byte at a time is not held up)."""
    text = iter(b"[    0.000000] Booting Linux")
    calls = []

    def read(n):                                        # one byte per read, as a slow pipe
        calls.append(n)
        return bytes([next(text)])

    assert read_head(read) == b"[" and len(calls) == 1
    bz = iter(b"BZh is a word")
    assert read_head(lambda n: bytes([next(bz)])) == b"BZh "     # ruled out at the fourth byte
    assert compression_of(b"BZh91AY&") == "bzip2" and compression_of(b"BZh is text") is None


# --------------------------------------------------------------------------- compressed stdin

def _batch() -> bytes:
    return b"0xffff800000201234\n0x0\n# a comment\n0xffff800000200000\n"


@pytest.mark.parametrize("kind", KINDS)
def test_compressed_batch_on_stdin_is_read_decompressed(kind):
    rc, want, _ = _cli(["translate", *IMAGE, "--no-trace", "--batch", "-"], stdin=_batch())
    assert rc == 1 and len(want.splitlines()) == 3             # 0x0 faults
    rc2, got, _ = _cli(["translate", *IMAGE, "--no-trace", "--batch", "-"], stdin=compress(kind, _batch()))
    assert (rc2, got) == (rc, want)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_compressed_stdin_is_one_error(kind):
    packed = compress(kind, _batch() * 200)
    for cut in (len(packed) // 2, len(packed) - 3):
        rc, out, err = _cli(["translate", *IMAGE, "--no-trace", "--batch", "-"], stdin=packed[:cut])
        assert rc == 2
        assert f"pgwalk: error: <stdin>: {kind} data is damaged or truncated" in err
    rc, out, err = _cli(["at", "--batch", "-", *IMAGE], stdin=compress(kind, b'{"op": "S1E1R"}\n' * 50)[:-3])
    assert rc == 2 and "<stdin>: " in err and "damaged or truncated" in err


@pytest.mark.parametrize("kind", KINDS)
def test_compressed_log_on_stdin_is_read_decompressed(kind):
    text = LOG.read_bytes()
    rc, want, _ = _cli(["decode-esr", "--log", LOG, "--short"])
    assert "ESR" in want
    rc2, got, _ = _cli(["decode-esr", "--log", "-", "--short"], stdin=compress(kind, text))
    assert rc2 == rc and re.sub(r"(?m)^-:", "LOG:", got) == re.sub(rf"(?m)^{re.escape(str(LOG))}:", "LOG:", want)
    assert got.startswith("-:") and want.startswith(f"{LOG}:")
    rc3, _out, err = _cli(["decode-esr", "--log", "-", "--short"], stdin=compress(kind, text)[:-5])
    assert rc3 == 2 and "<stdin>: " in err and "damaged or truncated" in err


def test_zstd_file_cut_inside_a_frame_is_refused(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    packed = zstandard.ZstdCompressor().compress(SAMPLE.read_bytes())
    cut = tmp_path / "cut.zst"
    cut.write_bytes(packed[:len(packed) // 2])
    rc, _out, err = _cli(["translate", "-i", f"{cut}@0x40000000", "--regs", REGS, "0xffff800000201234"])
    assert rc == 2 and f"{cut}: zstd data is damaged or truncated" in err
    two = tmp_path / "two.zst"                   # two whole frames: one stream, read across both
    half = len(SAMPLE.read_bytes()) // 2
    two.write_bytes(zstandard.ZstdCompressor().compress(SAMPLE.read_bytes()[:half]) +
                    zstandard.ZstdCompressor().compress(SAMPLE.read_bytes()[half:]))
    rc, out, _ = _cli(["info", "--json", two])
    assert rc == 0 and json.loads(out)["dump_size"] == SAMPLE.stat().st_size


def test_real_pipes(tmp_path):
    """Through a real pipe (stdin a descriptor): plain and gzip logs give the file's reports; a
    cut gzip batch is one error line and exit status 2."""
    def pgwalk(argv, data: bytes):
        return subprocess.run([sys.executable, "-m", "pgwalk", *map(str, argv)], input=data,
                              capture_output=True, timeout=120)

    want = pgwalk(["decode-esr", "--log", LOG, "--short"], b"").stdout.replace(f"{LOG}:".encode(), b"-:")
    assert b"ESR" in want
    for data in (LOG.read_bytes(), gzip.compress(LOG.read_bytes())):
        r = pgwalk(["decode-esr", "--log", "-", "--short"], data)
        assert r.stdout == want, r.stderr
    r = pgwalk(["translate", *IMAGE, "--no-trace", "--batch", "-"], gzip.compress(_batch() * 100)[:-4])
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("pgwalk: error:") == 1 and "Traceback" not in err
    assert "<stdin>: gzip data is damaged or truncated" in err


def test_an_image_is_not_read_from_stdin():
    """``-i -`` / ``info -``: one line saying images are files (memory-mapped), not 'no such file'."""
    for argv in (["info", "-"], ["translate", "-i", "-", "--regs", REGS, "0x1000"]):
        rc, _out, err = _cli(argv, stdin=gzip.compress(SAMPLE.read_bytes()))
        assert rc == 2 and "pgwalk: error: -: a memory image or dump is not read from stdin" in err
