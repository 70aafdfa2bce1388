"""The quick decoders' plain command lines, run without click (pgwalk.cmd.spec).

A line :meth:`Command.parse_plain` accepts must get exactly the values click gives it, a line
click refuses must never be accepted, and the output of a line run either way must be the same.
The point of it all, that ``pgwalk decode-esr VALUE`` imports neither click nor the modules
behind its start-up, is checked by the modules a real process has loaded, not by a clock.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys

import pytest

from pgwalk.cmd.decode_esr import DECODE, DECODE_ESR

#: a pipe, without what makes rich take one for a terminal
ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}

#: tokens the command lines are made of: values, options, and what only click may read
TOKENS = {
    "decode-esr": ["0x96000045", "96000045", "0x92000046", "zz", "", "-", "--far", "0xffff800008001234", "--hpfar",
                   "0x1230", "--par", "0x800", "--el", "1", "2", "4", "--el=3", "--el=x", "--json", "--json=1",
                   "--linux", "--kernel", "6.1", "--kernel=5.4", "--log", "--image", "x.img", "--short", "--full",
                   "-h", "--help", "--", "--bogus", "-x", "--far=0x10", "--e2h"],
    "decode": ["tcr_el1", "0x35b5503510", "descriptor", "0x40000000000703", "--e2h", "--json", "--full",
               "--granule", "4k", "4K", "16k", "8k", "--granule=64K", "--level", "3", "-1", "--level=-1", "--level=-3",
               "--level=0x1", "--level= 2", "--stage", "1", "2", "--stage=3", "--ds", "--pa-bits", "52", "31", "57",
               "--pa-bits=48", "--d128", "--mair", "0xff", "--one-el", "--id-reg", "ID_AA64MMFR0_EL1=0x5",
               "--id-reg=mmfr2=1", "-h", "--", "--bogus", "--json=", "-"],
}


def _click_values(command, args: list[str]):
    """click's values for ``args``, or None if click refuses the line (or prints help)."""
    import click

    try:
        with command.make_context(command.name, list(args)) as ctx:
            return dict(ctx.params)
    except (click.exceptions.Exit, click.ClickException):
        return None


def _lines(name: str, count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    tokens = TOKENS[name]
    lines = [[]] + [[t] for t in tokens] + [list(p) for p in itertools.permutations(tokens[:4], 2)]
    start = {"decode-esr": ["0x96000045"], "decode": ["descriptor", "0x40000000000703"]}[name]
    while len(lines) < count:               # (half of them start with the arguments, in any order after)
        line = [rng.choice(tokens) for _ in range(rng.randint(1, 6))] + (start if rng.random() < 0.5 else [])
        lines.append(line if rng.random() < 0.5 else line[::-1])
    return lines


@pytest.mark.parametrize("spec", [DECODE_ESR, DECODE], ids=lambda s: s.name)
def test_a_plain_line_gets_exactly_what_click_gives(spec):
    command = spec.click_command()
    accepted = refused_by_click = 0
    for args in _lines(spec.name, 4000, seed=len(spec.name)):
        ours, theirs = spec.parse_plain(args), _click_values(command, args)
        if ours is not None:
            assert theirs == ours, args
            accepted += 1
        refused_by_click += theirs is None
    # both kinds of line were made: the comparison says something
    assert accepted > 250 and refused_by_click > 250, (accepted, refused_by_click)


def test_values_as_click_converts_them():
    assert DECODE.parse_plain(["descriptor", "0x3", "--granule", "4K", "--level=-1", "--id-reg", "a=1",
                               "--id-reg=b=2"]) == {
        "register": "descriptor", "value": "0x3", "e2h": False, "as_json": False, "full": False, "granule": "4k",
        "level": -1, "stage": "1", "ds": False, "pa_bits": None, "d128": False, "mair": None, "one_el": False,
        "id_reg": ("a=1", "b=2")}
    # what click reads otherwise, or refuses, goes to click
    for args in (["tcr_el1", "1", "--level", "-1"], ["tcr_el1", "1", "--stage", "3"], ["tcr_el1"], ["-h"],
                 ["tcr_el1", "1", "--", "x"], ["tcr_el1", "1", "--json=yes"], ["tcr_el1", "1", "2"]):
        assert DECODE.parse_plain(args) is None, args


def _run(args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    code = "import sys; from pgwalk.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(ENV, NO_COLOR="1")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, input=stdin,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


LOG = """\
[  12.345678] Unable to handle kernel paging request at virtual address ffff800008001234
[  12.345679] Mem abort info:
[  12.345680]   ESR = 0x0000000096000045
[  12.345681]   EC = 0x25: DABT (current EL), IL = 32 bits
"""


@pytest.mark.parametrize("args", [
    ["decode-esr", "0x96000045"],
    ["decode-esr", "0x92000046", "--far", "0xffff800008001234", "--el", "2", "--full"],
    ["decode-esr", "0x96000045", "--short"],
    ["decode-esr", "0x96000045", "--json"],
    ["decode-esr", "0x96000045", "--linux", "--kernel", "5.4"],
    ["decode-esr", "0xzz"],
    ["decode-esr", "0x96000045", "--short", "--json"],
    ["decode-esr"],
    ["decode-esr", "--log", "-"],
    ["decode", "tcr_el1", "0x35b5503510"],
    ["decode", "descriptor", "0x40000000000703", "--granule", "4K", "--level", "3"],
    ["decode", "descriptor", "0x3"],
], ids=lambda a: " ".join(a))
def test_a_plain_line_runs_as_through_click(args):
    """The same line without click (plain) and through click (``--color auto`` first: the
    group's option sends it to click): the same status, stdout and stderr."""
    stdin = LOG if "--log" in args else None
    plain, clicked = _run(args, stdin), _run(["--color", "auto", *args], stdin)
    assert plain == clicked
    assert plain[1] or plain[2]


def test_decode_esr_starts_without_click_or_what_start_up_cannot_afford():
    """``pgwalk decode-esr VALUE``'s process, in a pipe: none of the imports that made most of its
    start-up (click; typing and dataclasses, with inspect and ast; re; numpy and rich)."""
    heavy = ("click", "typing", "dataclasses", "inspect", "ast", "re", "numpy", "rich")
    # (beyond those Python's own start-up loaded here: an editable install's finder imports re)
    code = (f"import sys; before = [m for m in {heavy!r} if m in sys.modules]\n"
            "from pgwalk.__main__ import run; sys.argv = ['pgwalk', 'decode-esr', '0x96000045']\n"
            "try:\n    run()\nexcept SystemExit as e:\n"
            f"    print('loaded:', [m for m in {heavy!r} if m in sys.modules and m not in before], e.code,"
            " file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=ENV)
    assert "level 1 translation fault on a write" in p.stdout
    assert "loaded: [] 0" in p.stderr, p.stderr
    # and a line click must read still works the same, with click
    p = subprocess.run([sys.executable, "-m", "pgwalk", "decode-esr", "--el", "4", "0x96000045"],
                       capture_output=True, text=True, timeout=60, env=ENV)
    assert p.returncode == 2 and p.stderr.startswith("pgwalk: error: Invalid value for '--el'"), p.stderr
