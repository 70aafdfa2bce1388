"""The plain trace table (:func:`pgwalk.render.trace_text`) that ``translate --batch`` writes to a
pipe or a file is, byte for byte, what rich prints for :func:`pgwalk.render.render_trace` on the
pipe console; where the table is too wide it says so (``None``) and rich does the layout."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from rich.console import Console

import pgwalk
from pgwalk.cmd.output import PIPE_WIDTH
from pgwalk.render import render_trace, trace_text

from oracle_data import linux_vmcore_elf

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _rich(d: dict, width: int) -> str:
    """What the pipe console prints (no colour, soft wrap), less the spaces it pads lines with."""
    buf = io.StringIO()
    Console(file=buf, width=width, soft_wrap=True, color_system=None, no_color=True,
            highlight=False).print(render_trace(d, width))
    return "\n".join(line.rstrip(" ") for line in buf.getvalue().split("\n")).rstrip("\n")


def _dicts(target, vas):
    for va in vas:
        for access in (None, "write", "exec"):
            yield target.translate(va, access=access).to_dict()


@pytest.mark.parametrize("name,regs", [("s1_4k_48bit", "s1_4k_48bit"), ("s1_64k", "s1_64k"),
                                       ("two_stage", "two_stage"), ("lpa2_52bit_4k", "lpa2_52bit_4k")])
def test_trace_text_is_what_rich_prints(name, regs):
    rng = random.Random(7)
    vas = ([0xFFFF800000201234, 0x603000, 0x1000, 0x40201234]
           + [0xFFFF800000000000 + rng.getrandbits(24) for _ in range(40)] + [rng.getrandbits(40) for _ in range(20)])
    with pgwalk.open(f"{SAMPLES / (name + '.img')}@0x40000000", regs=str(SAMPLES / f"{regs}.regs.json")) as t:
        seen = set()
        for d in _dicts(t, vas):
            text = trace_text(d, PIPE_WIDTH)
            assert text is not None
            assert text == _rich(d, PIPE_WIDTH)
            seen |= {line.split()[0] for line in text.splitlines()[1:]} | {step["kind"] for step in d["steps"]}
    assert {"S1", "table"} <= seen                      # (the rows compared include walks and faults)


def test_trace_text_on_the_linux_dump():
    path = linux_vmcore_elf()
    if path is None:
        pytest.skip("oracle dump not available")
    rng = random.Random(3)
    with pgwalk.open(str(path)) as t:
        vas = [0xFFFF800008000000 + rng.getrandbits(27) for _ in range(100)] + [0xFFFF000000000000 | rng.getrandbits(48) for _ in range(20)]
        for va in vas:
            d = t.translate(va).to_dict()
            assert trace_text(d, PIPE_WIDTH) == _rich(d, PIPE_WIDTH)


def test_a_table_too_wide_is_left_to_rich():
    with pgwalk.open(f"{SAMPLES / 's1_4k_48bit.img'}@0x40000000", regs=str(SAMPLES / "s1_4k_48bit.regs.json")) as t:
        d = t.translate(0xFFFF800000201234).to_dict()
    text = trace_text(d, PIPE_WIDTH)
    width = max(len(line) for line in text.splitlines())
    assert trace_text(d, width) == text                 # it fits exactly
    assert trace_text(d, width - 1) is None             # rich folds the fields column, or stacks the steps
