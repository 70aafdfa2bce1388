"""Opening inputs (issue 14): one sentence naming the file for every failure, compressed inputs read.

Every file the commands open (-i images, --regs, --batch, decode-esr --log and --image, info,
vtop/ptov dumps, dump-tree --html output): a missing file, a directory, or an unwritable output is
one line ``pgwalk: error: FILE: <problem>`` and exit status 2.  Images compressed with zstd, xz or
gzip (recognised by their magic bytes, whatever their name) are decompressed to a temporary file,
said in a note, removed at exit, and refused when the output would not fit on the disk.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pgwalk.errors import ImageError
from pgwalk.inputs import compression_of, decompress_to_temp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import compress  # noqa: E402
from test_hostile_cli import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "s1_4k_48bit.img"
REGS = ROOT / "samples" / "s1_4k_48bit.regs.json"
VA = "0xffff800000201234"
LOG = ROOT.parent.parent / "shared" / "oracle" / "linux-arm64" / "serial.log"
if not LOG.exists():
    LOG = ROOT.parent / "shared" / "oracle" / "linux-arm64" / "serial.log"


def _missing_and_dir(tmp_path: Path) -> list[tuple[Path, str]]:
    return [(tmp_path / "nosuch", "no such file"), (tmp_path, "is a directory")]


def _one_error(err: str, path: Path, problem: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("pgwalk: error:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"pgwalk: error: {path}: "), err
    assert problem in lines[0], err
    assert "Error" not in lines[0] and "Errno" not in lines[0], err


def test_every_input_names_the_file_and_the_problem(tmp_path):
    img = f"{SAMPLE}@0x40000000"
    for bad, problem in _missing_and_dir(tmp_path):
        for argv in (["translate", "-i", f"{bad}@0x40000000", "--regs", REGS, VA],
                     ["translate", "-i", img, "--regs", bad, VA],
                     ["translate", "-i", img, "--regs", REGS, "--batch", bad],
                     ["at", "--batch", bad, "-i", img, "--regs", REGS],
                     ["dump-tree", "-i", bad, "--regs", REGS],
                     ["decode-esr", "--log", bad],
                     ["info", bad],
                     ["vtop", bad, VA],
                     ["ptov", bad, "0x40000000"]):
            rc, _out, err = cli(*argv)
            assert rc == 2, (argv, err)
            _one_error(err, bad, problem)


def test_decode_esr_image_names_the_file(tmp_path):
    if not LOG.exists():
        pytest.skip("the shared oracle's serial.log is not there")
    rc, _out, err = cli("decode-esr", "--log", LOG, "--image", tmp_path / "nosuch")
    assert rc == 2
    _one_error(err, tmp_path / "nosuch", "no such file")


def test_html_output_that_cannot_be_written(tmp_path):
    base = ["dump-tree", "-i", f"{SAMPLE}@0x40000000", "--regs", REGS, "--html"]
    rc, _out, err = cli(*base, tmp_path)
    assert rc == 2
    _one_error(err, tmp_path, "is a directory")
    rc, _out, err = cli(*base, tmp_path / "no" / "page.html")
    assert rc == 2
    _one_error(err, tmp_path / "no" / "page.html", "no such directory")


def test_base_that_is_not_a_number(tmp_path):
    img = tmp_path / "vmcore"
    shutil.copy(SAMPLE, img)
    rc, _out, err = cli("translate", "-i", f"{img}@zz", "--regs", REGS, VA)
    assert rc == 2
    _one_error(err, Path(f"{img}@zz"), "'zz' after '@' is not a hexadecimal base address")


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_compressed_image_is_read(tmp_path, kind):
    # named .bin: recognised by the magic bytes, not the name
    packed = tmp_path / "image.bin"
    packed.write_bytes(compress(kind, SAMPLE.read_bytes()))
    assert compression_of(packed.read_bytes()[:8]) == kind
    rc, plain, _ = cli("translate", "--no-trace", "-i", f"{SAMPLE}@0x40000000", "--regs", REGS, VA)
    rc2, out, err = cli("translate", "--no-trace", "-i", f"{packed}@0x40000000", "--regs", REGS, VA)
    assert rc == rc2 == 0
    assert out.splitlines()[0] == plain.splitlines()[0]
    assert f"{packed}: {kind}-compressed; decompressed to a temporary file" in out + err


def test_compressed_dump_in_a_subprocess_leaves_no_temporary_file(tmp_path):
    packed = tmp_path / "in" / "dump.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    r = subprocess.run([sys.executable, "-m", "pgwalk", "translate", "-i", f"{packed}@0x40000000", "--regs",
                        str(REGS), VA], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "gzip-compressed" in r.stdout + r.stderr
    assert list(tmp.iterdir()) == []


def test_info_takes_path_at_base_as_translate_does(tmp_path):
    # the -i value of a translate command line, given to info: the raw image at that base
    rc, out, err = cli("info", "--json", "-i", f"{SAMPLE}@0x40000000")
    assert rc == 0, err
    d = json.loads(out)
    assert d["format"] == "raw" and d["path"] == str(SAMPLE)
    assert [(r["start"], r["end"]) for r in d["memory"]["regions"]] == [("0x40000000", hex(0x40000000 + SAMPLE.stat().st_size))]
    assert "mapped at physical address 0x40000000" in d["format_description"]
    rc, text, _ = cli("info", "-i", f"{SAMPLE}@0x40000000")
    assert rc == 0 and "0x40000000" in text.splitlines()[0]
    # a file that starts as an ELF core, given a base: raw there, with a note (as translate maps it)
    core = tmp_path / "core"
    core.write_bytes(b"\x7fELF" + SAMPLE.read_bytes()[4:])
    rc, out, err = cli("info", "--json", f"{core}@0x1000")
    assert rc == 0 and json.loads(out)["format"] == "raw"
    assert "starts with the ELF magic but @0x1000 was given; mapped as a raw image" in err
    # a base the image does not fit above: one error line
    rc, _out, err = cli("info", f"{SAMPLE}@0xffffffffffff0000")
    assert rc == 2 and "does not fit in the 64-bit physical address space" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name, signature", [
    ("linux-arm64/vmcore.kdump-zlib", "a makedumpfile flattened-format signature"),    # QEMU's dump-guest-memory
    ("makedumpfile-public/max-zstd-d31", "a kdump signature"),                          # makedumpfile's own
])
def test_kdump_file_given_a_base_is_noted_as_an_elf_core_is(name, signature):
    # a real dump given PATH@BASE maps raw (its headers and compressed pages read as memory):
    # translate, dump-tree and info say so, as they do for an ELF core, instead of walking it silently
    dump = LOG.parent.parent / name
    if not dump.is_file():
        pytest.skip(f"{dump} is not here")
    note = f"{dump}: starts with {signature} but @0x40000000 was given; mapped as a raw image"
    rc, out, err = cli("info", "--json", "-i", f"{dump}@0x40000000")
    assert rc == 0, err
    assert json.loads(out)["format"] == "raw"
    assert note in err and "drop @BASE to read it as a dump" in err
    _rc, out, err = cli("translate", "--no-trace", "-i", f"{dump}@0x40000000", "--regs", REGS, VA)
    assert note in out + err
    # without the base it is read as the dump it is, with no such note
    rc, out, err = cli("info", "--json", "-i", str(dump))
    assert rc == 0 and json.loads(out)["format"].startswith("kdump") and "mapped as a raw image" not in err


def test_compressed_info(tmp_path):
    packed = tmp_path / "raw.xz"
    packed.write_bytes(lzma.compress(SAMPLE.read_bytes()))
    rc, out, err = cli("info", packed)
    assert rc == 0
    assert "xz-compressed" in err


def test_decompression_refused_when_the_disk_is_too_small(tmp_path):
    packed = tmp_path / "big.gz"
    packed.write_bytes(gzip.compress(bytes(8 << 20)))
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(ImageError, match=r"big\.gz: gzip-compressed; decompressing it needs more than .* free"):
        decompress_to_temp(str(packed), "gzip", tmpdir=str(tmp_path), reserve=free - (1 << 20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.gz"]      # the partial output is gone


def test_zstd_declared_size_refused_before_writing(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    packed = tmp_path / "big.zst"
    packed.write_bytes(zstandard.ZstdCompressor(write_content_size=True).compress(bytes(8 << 20)))
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(ImageError, match=r"needs 8\.0 MiB"):
        decompress_to_temp(str(packed), "zstd", tmpdir=str(tmp_path), reserve=free - (1 << 20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.zst"]


def test_damaged_compressed_image(tmp_path):
    packed = tmp_path / "cut.gz"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes())[:200])
    rc, _out, err = cli("translate", "-i", f"{packed}@0x40000000", "--regs", REGS, VA)
    assert rc == 2
    _one_error(err, packed, "damaged or truncated")


def test_compressed_register_file_is_named(tmp_path):
    packed = tmp_path / "regs.json"
    packed.write_bytes(gzip.compress(REGS.read_bytes()))
    rc, _out, err = cli("translate", "-i", f"{SAMPLE}@0x40000000", "--regs", packed, VA)
    assert rc == 2
    _one_error(err, packed, "gzip-compressed, not a register file")


def test_compressed_batch_and_log_are_read(tmp_path):
    batch = tmp_path / "batch.xz"
    batch.write_bytes(lzma.compress(f"{VA}\n0x0\n".encode()))
    rc, out, _ = cli("translate", "--no-trace", "-i", f"{SAMPLE}@0x40000000", "--regs", REGS, "--batch", batch)
    assert rc in (0, 1) and VA in out
    if LOG.exists():
        log = tmp_path / "serial"
        log.write_bytes(gzip.compress(LOG.read_bytes()))
        rc, out, _ = cli("decode-esr", "--log", log, "--short")
        rc2, plain, _ = cli("decode-esr", "--log", LOG, "--short")
        assert rc == rc2 and out.replace(str(log), "LOG") == plain.replace(str(LOG), "LOG") and "ESR" in out


def test_decode_esr_compressed_image_is_noted(tmp_path):
    if not LOG.exists():
        pytest.skip("the shared oracle's serial.log is not there")
    packed = tmp_path / "image"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    rc, _out, err = cli("decode-esr", "--log", LOG, "--image", packed, "--short")
    assert rc in (0, 1)
    assert f"pgwalk: note: {packed}: gzip-compressed; decompressed to a temporary file" in err
