"""``pgwalk --version`` and click's shell completion (``_PGWALK_COMPLETE``), as a user's shell runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pgwalk
from cli_helpers import run


def pgwalk_cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """``pgwalk ARGS`` in a subprocess (completion exits the interpreter), with extra environment."""
    return subprocess.run([sys.executable, "-m", "pgwalk.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_version(capsys):
    rc, out, err = run(["--version"], capsys)
    lines = out.splitlines()
    assert rc == 0 and err == "" and lines[0] == f"pgwalk {pgwalk.__version__}"
    assert lines[1].startswith("Python ") and "click " in lines[1] and "numpy " in lines[1]
    assert lines[2].startswith("kdump decompressors: zlib")


def test_version_does_not_import_numpy():
    r = subprocess.run([sys.executable, "-c", "import sys; from pgwalk.cli import main; main(['--version']); "
                        "print('numpy' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "False"


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F _pgwalk_completion pgwalk"),
                                          ("zsh", "compdef _pgwalk_completion pgwalk"),
                                          ("fish", "complete --no-files --command pgwalk")])
def test_completion_scripts(shell, marker):
    r = pgwalk_cli([], _PGWALK_COMPLETE=f"{shell}_source")
    assert r.returncode == 0 and marker in r.stdout


@pytest.mark.parametrize("words,cword,expect", [
    ("pgwalk dump", 1, "plain,dump-tree"),
    ("pgwalk dump-tree --ht", 2, "plain,--html"),
    ("pgwalk dump-tree --html ", 3, "file,"),
    ("pgwalk dump-tree --regime el", 3, "plain,el10"),
])
def test_bash_completion_answers(words, cword, expect):
    r = pgwalk_cli([], _PGWALK_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(cword))
    assert r.returncode == 0 and expect in r.stdout.splitlines(), r.stdout
