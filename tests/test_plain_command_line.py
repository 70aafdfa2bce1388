"""Plain command lines, run without click (pgwalk.cmd.spec), for every command.

A line :meth:`Command.parse_plain` accepts must get exactly the values click gives it, a line
click refuses must never be accepted, and the output of a line run either way must be the same.
The point of it all, that ``pgwalk decode-esr VALUE`` imports neither click nor the modules
behind its start-up (and ``translate``, ``at``, ``info``... no click), is checked by the modules a
real process has loaded, not by a clock.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys

import pytest

from pgwalk.cmd.decode_esr import DECODE, DECODE_ESR
from pgwalk.cmd.registry import COMMANDS, load

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")

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
    "translate": ["0xffff800000201234", "401000", "-", "-i", "x.img@0x40000000", "--image=y.img", "--regs", "r.json",
                  "--regs=", "--reg", "TTBR0_EL1=0x1", "--reg=TCR_EL1=5", "--granule", "4K", "16k", "8k",
                  "--va-bits", "48", "4x", "--va-bits=-1", "--root", "0x1000", "--batch", "f.txt", "--stages", "12",
                  "3", "--access", "write", "Write", "--el", "0", "4", "--el=2", "--pan", "--regime", "EL2&0", "el3",
                  "--json", "--csv", "--fields", "va,pa", "va,va", "help", "pa,", "--fields=pa", "--no-trace",
                  "--reverse", "--scalar", "--trace", "--nested", "--guest-hyp", "g.json", "--host", "h.json",
                  "--gdb", "localhost:1234", "--cpu", "1", "-h", "--", "--bogus", "-i=z"],
    "at": ["S1E1R", "0x1000", "at", "-i", "x.img", "--pan", "--no-pan", "--pan=1", "--hw-par", "0x800", "--batch",
           "b.jsonl", "--json", "--no-trace", "--trace", "--exec-el", "1", "4", "--explain", "quick", "bogus",
           "--max-rows", "5", "-5", "x", "--max-rows=-2", "--scalar", "--nested", "--by", "L1", "l3", "--guest-hyp",
           "g", "--host", "h", "--regs", "r.json", "--gdb", "unix:/s", "-h", "--", "--bogus"],
    "dump-tree": ["-i", "x.img", "--regs", "r.json", "--range", "0x0-0x1000", "--ttbr0", "--ttbr1", "--stage", "2",
                  "--regime", "EL1&0", "--view", "ranges", "tree", "--depth", "0", "-1", "--depth=3", "--no-merge",
                  "--invalid", "--json", "--stats", "--max-tables", "1", "0", "--max-entries=100", "--html", "-",
                  "o.html", "--shadow-s2", "--compare-shadow", "0x1000", "--shadow-vtcr", "0x5", "--guest-hyp",
                  "g", "--host", "h", "-h", "--", "--bogus", "extra"],
    "info": ["dump.elf", "other", "-i", "d.kdump", "--image=e", "--json", "--all-regions", "--symbols", "-h", "--",
             "--bogus", "-"],
    "vtop": ["dump.elf", "0xffff800008000000", "swapper_pg_dir", "-i", "d", "--json", "--reg", "TTBR0_EL1=1", "-h",
             "--bogus", "--", "-"],
    "ptov": ["dump.elf", "0x40000000", "-i", "d", "--json", "--reg", "-h", "--bogus", "--"],
    "read": ["0x1000", "40", "extra", "-i", "x.img", "--pa", "--stages", "1", "4", "--raw", "--format", "u64",
             "string", "bad", "--format=U64", "--regs", "r.json", "--cpu=2", "-h", "--", "--bogus"],
    "schema": ["translate", "esr", "bogus", "-h", "--", "--bogus", "--json", "-"],
}

#: the arguments half the generated lines end with
STARTS = {"decode-esr": ["0x96000045"], "decode": ["descriptor", "0x40000000000703"], "translate": ["0x1000"],
          "at": ["S1E1R", "0x1000"], "dump-tree": [], "info": ["dump.elf"], "vtop": ["d", "0x1"], "ptov": ["d", "0x1"],
          "read": ["0x1000"], "schema": []}

SPECS = [load(COMMANDS[name]) for name in COMMANDS]


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
    start = STARTS[name]
    while len(lines) < count:               # (half of them start with the arguments, in any order after)
        line = [rng.choice(tokens) for _ in range(rng.randint(1, 6))] + (start if rng.random() < 0.5 else [])
        lines.append(line if rng.random() < 0.5 else line[::-1])
    return lines


def test_every_command_is_declared():
    assert sorted(spec.name for spec in SPECS) == sorted(COMMANDS) == sorted(TOKENS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_plain_line_gets_exactly_what_click_gives(spec):
    command = spec.click_command()
    accepted = refused_by_click = 0
    for args in _lines(spec.name, 3000, seed=len(spec.name)):
        ours, theirs = spec.parse_plain(args), _click_values(command, args)
        if ours is not None:
            assert theirs == ours, args
            accepted += 1
        refused_by_click += theirs is None
    # both kinds of line were made: the comparison says something
    assert accepted > 150 and refused_by_click > 150, (accepted, refused_by_click)


def test_a_usage_error_of_a_plain_line_is_clicks():
    """``prepare``'s usage errors (no dump, no address) send the line to click, which says them."""
    vtop = load(COMMANDS["vtop"])
    assert vtop.parse_plain(["d"]) is not None and vtop.plain_arguments(["d"]) is None
    assert vtop.plain_arguments(["-i", "d", "0x1", "0x2"]) == {"dump": "d", "addresses": ("0x1", "0x2"),
                                                               "as_json": False, "reg_values": ()}
    assert load(COMMANDS["info"]).plain_arguments([]) is None


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


#: the shipped 4K sample: its image and registers
IMAGE = ["-i", os.path.join(SAMPLES, "s1_4k_48bit.img") + "@0x40000000", "--regs",
         os.path.join(SAMPLES, "s1_4k_48bit.regs.json")]

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
    ["translate", *IMAGE, "0xffff800000201234"],
    ["translate", *IMAGE, "0xffff800000201234", "0x401000", "--json", "--access", "write"],
    ["translate", *IMAGE, "0xffff800000201234", "--csv", "--fields", "va,pa,ok"],
    ["translate", *IMAGE, "0xffff800000201234", "--csv", "--fields", "va,bogus"],
    ["translate", *IMAGE],
    ["translate", "-i", os.path.join(SAMPLES, "absent.img"), "0x1000"],
    ["at", "S1E1R", "0xffff800000201234", *IMAGE, "--hw-par", "0x800"],
    ["at", "S1E1R", *IMAGE],
    ["dump-tree", *IMAGE, "--ttbr1", "--view", "ranges"],
    ["dump-tree", *IMAGE, "--json", "--max-tables", "2"],
    ["read", "0xffff800000201000", "0x20", *IMAGE],
    ["schema"],
    ["schema", "esr"],
    ["schema", "bogus"],
    ["info"],
    ["vtop", "only-a-dump"],
], ids=lambda a: " ".join(os.path.basename(x) for x in a))
def test_a_plain_line_runs_as_through_click(args):
    """The same line without click (plain) and through click (``--color auto`` first: the
    group's option sends it to click): the same status, stdout and stderr."""
    stdin = LOG if "--log" in args else None
    plain, clicked = _run(args, stdin), _run(["--color", "auto", *args], stdin)
    assert plain == clicked
    assert plain[1] or plain[2]


@pytest.mark.parametrize("args", [["info", "{dump}"], ["info", "-i", "{dump}", "--json"], ["vtop", "{dump}",
                                  "swapper_pg_dir", "0xffff000000000000"], ["ptov", "-i", "{dump}", "0x40000000"],
                                  ["translate", "-i", "{dump}", "swapper_pg_dir", "--no-trace"]],
                         ids=lambda a: " ".join(a))
def test_a_plain_line_on_a_dump_runs_as_through_click(args, dump):
    args = [a.format(dump=dump) for a in args]
    plain, clicked = _run(args), _run(["--color", "auto", *args])
    assert plain == clicked
    assert plain[1]


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


@pytest.mark.parametrize("args", [
    ["translate", *IMAGE, "0xffff800000201234"],
    ["at", "S1E1R", "0xffff800000201234", *IMAGE],
    ["dump-tree", *IMAGE, "--ttbr1"],
    ["schema", "esr"],
], ids=lambda a: a[0])
def test_a_plain_line_of_any_command_runs_without_click(args):
    """click's import is about half of a one-address ``translate``: a plain line never loads it."""
    code = ("import sys\nfrom pgwalk.__main__ import run\nsys.argv = ['pgwalk'] + sys.argv[1:]\n"
            "try:\n    run()\nexcept SystemExit as e:\n"
            "    print('click loaded:', 'click' in sys.modules, e.code, file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, env=ENV)
    assert p.stdout
    assert "click loaded: False 0" in p.stderr, p.stderr
