"""Reading a batch file (pgwalk.cmd.common.read_batch_bytes): a regular file in one read, its
lines then checked against the length bound; and the vectorised parse of it
(pgwalk.values.parse_address_text) across pieces whose lines are longer or shorter than the
first piece's (the values array sized from the first piece, grown or cut)."""

from __future__ import annotations

import random

import pytest

from pgwalk.cmd.common import read_batch_bytes
from pgwalk.errors import InputError
from pgwalk.values import parse_address_text


def test_regular_file_is_read_whole(tmp_path):
    data = b"".join(f"{v:#x}\n".encode() for v in range(0, 1 << 24, 4099))
    f = tmp_path / "vas.txt"
    f.write_bytes(data)
    assert bytes(read_batch_bytes(str(f))) == data
    f.write_bytes(data.rstrip(b"\n"))                   # no final newline
    assert bytes(read_batch_bytes(str(f))) == data.rstrip(b"\n")
    f.write_bytes(b"")
    assert bytes(read_batch_bytes(str(f))) == b""


@pytest.mark.parametrize("where", [0, 1, 5, 40])
def test_line_bound_on_a_regular_file_names_the_line(tmp_path, where):
    """A line of max_line bytes is taken, one of max_line + 1 is refused with its number, wherever
    it is (first, last, unterminated)."""
    lines = [b"0x%x" % i for i in range(40)]
    f = tmp_path / "vas.txt"
    for length, ok in ((16, True), (17, False)):
        body = lines[:where] + [b"1" * length] + lines[where:]
        for text in (b"\n".join(body) + b"\n", b"\n".join(body)):
            f.write_bytes(text)
            if ok:
                assert bytes(read_batch_bytes(str(f), max_line=16)) == text
            else:
                with pytest.raises(InputError) as e:
                    read_batch_bytes(str(f), max_line=16)
                assert str(e.value) == f"{f}:{where + 1}: line longer than 0 KiB (not a batch of lines?)"


def test_total_bound_on_a_regular_file(tmp_path):
    f = tmp_path / "vas.txt"
    f.write_bytes(b"0x1000\n" * 1000)
    assert len(read_batch_bytes(str(f), max_total=7000)) == 7000
    with pytest.raises(InputError, match="more than 0 MiB; split the batch"):
        read_batch_bytes(str(f), max_total=6999)


@pytest.mark.parametrize("piece", [7, 64, 300])
def test_parse_values_array_grows_and_shrinks(piece, monkeypatch):
    """The first piece's lines set the guess of the line count: later pieces of shorter lines
    (more lines than guessed) or longer ones (fewer) give the same values."""
    import pgwalk.values as values_mod

    monkeypatch.setattr(values_mod, "_PARSE_PIECE", piece)
    rng = random.Random(piece)
    long_ = [rng.getrandbits(64) | (1 << 63) for _ in range(50)]
    short = [rng.getrandbits(4) for _ in range(500)]
    for vas in (long_ + short, short + long_, long_ + short + long_):
        text = "".join(f"{v:#x}\n" for v in vas).encode()
        got = parse_address_text(text)
        assert got is not None and got.tolist() == vas


@pytest.mark.parametrize("piece", [19 * 4, 1 << 17])
def test_parse_lines_of_one_width(piece, monkeypatch):
    """Pieces whose lines all have one length (read as a matrix) give what the line-by-line
    reading gives: with and without 0x, short values, CRLF, a mix of 0x and none, a bad digit."""
    import pgwalk.values as values_mod

    monkeypatch.setattr(values_mod, "_PARSE_PIECE", piece)
    rng = random.Random(7)
    vas = [rng.getrandbits(60) | (1 << 60) for _ in range(300)]
    for fmt in ("{:#x}\n", "{:016x}\n", "{:#018X}\n", "{:#x}\r\n", "{:x}\n"):
        text = "".join(fmt.format(v) for v in vas).encode()
        got = parse_address_text(text)
        assert got is not None and got.tolist() == vas, fmt
    small = [rng.getrandbits(12) | (1 << 12) for _ in range(300)]          # four digits each
    text = "".join(f"{v:#x}\n" if i % 7 else f"{v:04x}00\n" for i, v in enumerate(small)).encode()
    want = [v if i % 7 else v << 8 for i, v in enumerate(small)]           # "0x1abc" and "1abc00": one width
    assert parse_address_text(text).tolist() == want
    bad = bytearray("".join(f"{v:#x}\n" for v in vas).encode())
    bad[19 * 150 + 9] = ord("g")
    assert parse_address_text(bytes(bad)) is None
    assert parse_address_text(b"7\n" * 100).tolist() == [7] * 100
