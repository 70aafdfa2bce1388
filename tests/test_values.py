"""One grammar for every address and value (pgwalk.values), and the vectorised batch parser
(pgwalk.values.parse_address_text) agreeing with it on every input."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pgwalk.values import parse_address_text
from pgwalk.errors import InputError
from pgwalk.values import parse_value


@pytest.mark.parametrize("text,value", [
    ("401000", 0x401000), ("0x401000", 0x401000), ("0X401000", 0x401000), ("ffff800008001000", 0xFFFF800008001000),
    ("0xffff_8000_0800_1000", 0xFFFF800008001000), ("0x_ff", 0xFF), ("  10\t", 0x10), ("0", 0),
    ("00000000000000000000ffff", 0xFFFF), ("0xffffffffffffffff", (1 << 64) - 1), (4096, 4096),
])
def test_parse_value_accepts_hex(text, value):
    assert parse_value(text) == value


@pytest.mark.parametrize("text", [
    "", "0x", "_", "0x__1", "1__2", "1_", "_1", "12g4", "-1", "+1", "1 2", "0o17", "0x1.0", "1e3h",
    "\u0661\u0662",            # ARABIC-INDIC digits: int() takes them
    "\uff11\uff12",            # FULLWIDTH digits
    "1\u00a0",                 # a non-ASCII space
    "0x1\u0660",
])
def test_parse_value_refuses(text):
    with pytest.raises(InputError, match="is not a hexadecimal address"):
        parse_value(text, "address")


#: the grammar of a value, as the README states it (parse_value checks it without re: start-up)
_GRAMMAR = re.compile(r"(?:0[xX]_?)?[0-9A-Fa-f]+(?:_[0-9A-Fa-f]+)*")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0xX_1aFg\u0663", max_size=8))
def test_parse_value_takes_exactly_the_grammar(text):
    if _GRAMMAR.fullmatch(text):
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        assert parse_value(text) == int(digits.replace("_", ""), 16)
    else:
        with pytest.raises(InputError):
            parse_value(text)


def test_error_names_the_token_and_where():
    with pytest.raises(InputError) as e:
        parse_value("12g4", "address", "line 7")
    assert str(e.value) == "line 7: '12g4' is not a hexadecimal address"
    with pytest.raises(InputError, match="does not fit in 64 bits"):
        parse_value("1" + "0" * 16)
    with pytest.raises(InputError, match="is not a hexadecimal"):
        parse_value(True)
    with pytest.raises(InputError, match="does not fit"):
        parse_value(-1)
    with pytest.raises(InputError) as e:              # a long token is quoted, shortened
        parse_value("z" * 10_000, "address")
    assert len(str(e.value)) < 100


def _scalar(data: bytes) -> list[int] | None:
    """What the line-by-line parse gives (every non-empty line an address), or None if any line fails."""
    text = data.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    try:
        return [parse_value(line, "address") for line in text.split("\n")]
    except InputError:
        return None


_HEX = "0123456789abcdefABCDEF"
_PLAIN = re.compile(r"(?:0[xX])?[0-9a-fA-F]{1,16}")
_line = st.one_of(
    st.integers(0, (1 << 64) - 1).map(lambda n: f"{n:x}"),
    st.integers(0, (1 << 64) - 1).map(lambda n: f"{n:#x}"),
    st.integers(0, (1 << 64) - 1).map(lambda n: f"{n:016x}"),
    st.integers(0, (1 << 64) - 1).map(lambda n: f"{n:#018X}"),
    st.text(alphabet=_HEX + "xX_ \r\t0-+g\u0661", min_size=0, max_size=20),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line, min_size=1, max_size=80), st.sampled_from(["\n", "\r\n"]), st.booleans())
@example(["401000", "0x401000"], "\n", True)
@example(["0", "1"], "\n", False)
@example(["1", ""], "\n", True)
def test_vectorised_batch_parse_is_the_scalar_parse(lines, eol, final_eol):
    data = eol.join(lines).encode() + (eol.encode() if final_eol else b"")
    got = parse_address_text(data)
    want = _scalar(data)
    if got is not None:                                # where it answers, the answer is parse_value's
        assert want is not None and got.tolist() == want
    else:                                              # and it answers for every plain batch
        assert not all(_PLAIN.fullmatch(x) for x in lines)


def test_vectorised_batch_parse_reads_bare_values_as_hex():
    data = "".join(f"{n:016x}\n" for n in range(0x401000, 0x401000 + 200 * 0x1000, 0x1000)).encode()
    got = parse_address_text(data)
    assert got is not None and got[0] == 0x401000 and got.tolist() == _scalar(data)
    mixed = b"401000\n0x401000\n1\n0xF\n"
    assert parse_address_text(mixed).tolist() == [0x401000, 0x401000, 1, 0xF]
    for bad in (b"\xd9\xa1\xd9\xa2\n", b"12g4\n", b"0x\n", b"1\n\n2\n", b"1_0\n"):
        assert parse_address_text(bad) is None
