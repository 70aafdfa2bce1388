"""pgwalk laid out as setuptools installs it from ``pyproject.toml``: each listed package's
modules from its ``package-dir``, its ``package-data`` files, nothing else (a regular install,
a wheel's contents; not the editable install the README makes, whose finder serves the whole
source tree).  Used by ``test_installed_layout.py`` and the start-up benchmark."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _source_dir(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools takes ``package`` from: its ``package-dir`` entry, or its parent's plus its name."""
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:n]))
        if mapped is not None:
            return ROOT.joinpath(mapped, *parts[n:])
    return ROOT.joinpath(*parts)


def lay_out(dest: Path) -> Path:
    """The installed packages under ``dest`` (made if needed); returns ``dest``.

    :raises ImportError: neither ``tomllib`` nor (Python 3.10) ``tomli``
    """
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in config["packages"]:
        src, out = _source_dir(package, config.get("package-dir", {})), dest.joinpath(*package.split("."))
        out.mkdir(parents=True, exist_ok=True)
        for module in src.glob("*.py"):
            shutil.copy(module, out / module.name)
        for pattern in config.get("package-data", {}).get(package, []):
            for f in src.glob(pattern):
                (out / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, out / f.relative_to(src))
    return dest


def deps_dir() -> Path:
    """The folder of the running interpreter's packages that pgwalk depends on (click, numpy,
    rich and construct are installed side by side)."""
    import click

    return Path(click.__file__).resolve().parents[1]


def make_venv(dest: Path) -> tuple[Path, Path]:
    """A virtual environment at ``dest`` with pgwalk installed regularly (:func:`lay_out`, a
    ``pgwalk`` script as pip writes one) and the running interpreter's dependencies reached
    through a ``.pth`` line (their folder's own ``.pth`` hooks, such as an editable finder, are
    not run).  Returns ``(python, pgwalk script)``.  No network, no pip."""
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(dest)
    python = dest / "bin" / "python"
    site = dest / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    lay_out(site)
    (site / "pgwalk-deps.pth").write_text(f"{deps_dir()}\n")
    script = dest / "bin" / "pgwalk"
    script.write_text(f"#!{python}\nimport sys\nfrom pgwalk.__main__ import run\n"
                      "if __name__ == '__main__':\n    sys.exit(run())\n")
    script.chmod(0o755)
    return python, script
