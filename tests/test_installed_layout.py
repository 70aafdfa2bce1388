"""pgwalk as a regular (not editable) install lays it out and runs it.

The README installs with ``pip install -e .``, whose finder imports ``pathlib`` and
``importlib.util`` when Python starts.  That hid a command module that used ``importlib.util``
without importing it: from a wheel or ``pip install .`` every command failed with a traceback.
The same finder made the package whole whatever ``pyproject.toml`` listed, which hid that the
commands' package ``pgwalk.cmd`` was not in it: a wheel had no command at all.  Here the package
is laid out as setuptools installs it from ``pyproject.toml`` (each listed package's modules from
its ``package-dir``, the ``package-data`` files; nothing else) and run by a Python started
without ``site`` (no ``.pth`` hooks, so no editable finder), with only the dependencies' folder
added to its path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layout_install import deps_dir, lay_out

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ["-i", f"{ROOT / 'samples' / 's1_4k_48bit.img'}@0x40000000",
          "--regs", str(ROOT / "samples" / "s1_4k_48bit.regs.json")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    return lay_out(tmp_path_factory.mktemp("installed"))


def test_every_package_of_the_tree_is_installed(installed):
    # (a folder of modules left out of pyproject.toml's packages is missing from every install)
    for init in [*ROOT.glob("pgwalk/**/__init__.py"), *ROOT.glob("formats/**/__init__.py")]:
        rel = init.parent.relative_to(ROOT)
        where = installed / ("pgwalk" / rel if rel.parts[0] == "formats" else rel)
        assert (where / "__init__.py").exists(), f"{rel} is not in pyproject.toml's packages"


def _run(installed: Path, code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys; sys.path[:0] = [{str(installed)!r}, {str(deps_dir())!r}]; "
    return subprocess.run([sys.executable, "-S", "-c", prelude + code], capture_output=True, text=True,
                          timeout=120, cwd=installed)


def pgwalk_installed(installed: Path, args: list[str]) -> subprocess.CompletedProcess:
    """``pgwalk ARGS`` through the console script's entry point, from the copy."""
    return _run(installed, f"sys.argv = ['pgwalk'] + {args!r}; from pgwalk.__main__ import run; sys.exit(run())")


def test_the_copy_is_what_runs(installed):
    p = _run(installed, "import pgwalk, pgwalk.formats.esr, importlib; "
                        "print(pgwalk.__file__); print(pgwalk.formats.esr.__file__); "
                        "print('importlib.util' in sys.modules, '__editable__' in ' '.join(sys.modules))")
    assert p.returncode == 0, p.stderr
    pkg, fmt, flags = p.stdout.splitlines()
    assert Path(pkg).is_relative_to(installed) and Path(fmt).is_relative_to(installed / "pgwalk" / "formats")
    assert flags == "False False"       # (what an editable install's start-up would have imported)


@pytest.mark.parametrize("args, expect", [
    (["decode-esr", "0x96000045"], "Data Abort"),
    (["translate", *SAMPLE, "0xffff800000201234"], "0x40201234"),
    (["dump-tree", *SAMPLE, "--ttbr1", "--view", "ranges"], "0xffff800000200000"),
    (["info", "-i", SAMPLE[1]], "mapped at physical address 0x40000000"),
    (["--help"], "decode-esr"),
    (["schema", "translate"], "json-schema.org"),                          # (package data: schemas/)
    (["dump-tree", *SAMPLE, "--ttbr1", "--html", "-"], "<!DOCTYPE html>"),  # (package data: assets/)
])
def test_commands_run_from_a_regular_install(installed, args, expect):
    p = pgwalk_installed(installed, args)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert expect in p.stdout


def test_a_regular_virtual_environment_runs_pgwalk(tmp_path):
    # (with site and .pth files, as a user's venv after `pip install pgwalk`; the start-up benchmark's)
    from layout_install import make_venv

    python, script = make_venv(tmp_path / "venv")
    p = subprocess.run([str(python), "-c", "import sys, pgwalk; print(pgwalk.__file__); "
                        "print(any('editable' in m for m in sys.modules))"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    where, editable = p.stdout.split()
    assert Path(where).is_relative_to(tmp_path / "venv") and editable == "False"
    p = subprocess.run([str(script), "decode-esr", "0x96000045"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert p.returncode == 0 and "Data Abort" in p.stdout, p.stderr
