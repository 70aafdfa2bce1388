"""The module layers, read from the source with ``ast`` (nothing is imported or run).

Guards three rules of the developers' guide: no import cycles among pgwalk's modules
(function-level and TYPE_CHECKING imports count), no private names used across modules
(``from x import _name`` or ``x._name``), and the layer order

    field tables (formats) -> arch rules -> walk engine -> memory/targets
    -> Linux awareness -> views -> public API -> CLI

where a module may import its own layer or lower ones, never a higher one.  Every module
must be placed in :data:`LAYER` explicitly: a new module fails here until it is.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

#: the layers, lowest first
LAYERS = ("formats", "arch rules", "walk engine", "memory/targets", "Linux awareness", "views",
          "public API", "CLI")

#: every pgwalk module and its layer (the README's code-layout table says the same)
LAYER: dict[str, str] = {
    # field tables and the foundations everything may use
    "pgwalk.formats": "formats",
    "pgwalk.formats.fields": "formats",
    "pgwalk.formats.rows": "formats",
    "pgwalk.formats.descriptors": "formats",
    "pgwalk.formats.registers": "formats",
    "pgwalk.formats.esr": "formats",
    "pgwalk.formats.elf": "formats",
    "pgwalk.formats.kdump": "formats",
    "pgwalk.errors": "formats",
    "pgwalk.values": "formats",
    "pgwalk.records": "formats",
    "pgwalk.jsonrecords": "formats",     # dataclasses made without compiling source (record)
    "pgwalk.writer": "formats",
    "pgwalk.inputs": "formats",
    "pgwalk.memory_protocol": "formats",   # the Memory protocol: walkers and backends both name it
    # architectural rules (pure functions over register and descriptor values)
    "pgwalk.sysregs": "arch rules",
    "pgwalk.attrs": "arch rules",
    "pgwalk.faults": "arch rules",
    "pgwalk.perms": "arch rules",
    "pgwalk.params": "arch rules",
    "pgwalk.rules": "arch rules",
    "pgwalk.regs": "arch rules",
    "pgwalk.esr": "arch rules",
    # walk engine: scalar, vectorised and tree walks, AT, result records
    "pgwalk.walk": "walk engine",
    "pgwalk.report": "walk engine",
    "pgwalk.bulk": "walk engine",
    "pgwalk.tree": "walk engine",
    "pgwalk.reverse": "walk engine",
    "pgwalk.at_ops": "walk engine",
    "pgwalk.at": "walk engine",
    "pgwalk.nested": "walk engine",
    "pgwalk.par": "walk engine",
    "pgwalk.at_many": "walk engine",
    # memory backends and live targets
    "pgwalk.memory": "memory/targets",
    "pgwalk.kdump": "memory/targets",
    "pgwalk.images": "memory/targets",
    "pgwalk.gdbremote": "memory/targets",
    "pgwalk.live": "memory/targets",
    "pgwalk.builder": "memory/targets",
    "pgwalk.contents": "memory/targets",
    # Linux awareness
    "pgwalk.vmcoreinfo": "Linux awareness",
    "pgwalk.symbols": "Linux awareness",
    "pgwalk.linux": "Linux awareness",
    "pgwalk.logstream": "Linux awareness",
    "pgwalk.kernlog": "Linux awareness",
    # views
    "pgwalk.descdecode": "views",
    "pgwalk.render": "views",
    "pgwalk.plaintext": "views",
    "pgwalk.render_tree": "views",
    "pgwalk.render_html": "views",
    "pgwalk.lines": "views",
    # public API
    "pgwalk": "public API",
    "pgwalk.target": "public API",
    # CLI
    "pgwalk.cli": "CLI",
    "pgwalk.__main__": "CLI",
    "pgwalk.cmd": "CLI",
    "pgwalk.cmd.registry": "CLI",
    "pgwalk.cmd.spec": "CLI",
    "pgwalk.cmd.root": "CLI",
    "pgwalk.cmd.common": "CLI",
    "pgwalk.cmd.nested": "CLI",
    "pgwalk.cmd.output": "CLI",
    "pgwalk.cmd.progress": "CLI",
    "pgwalk.cmd.gdb": "CLI",
    "pgwalk.cmd.translate": "CLI",
    "pgwalk.cmd.at": "CLI",
    "pgwalk.cmd.read": "CLI",
    "pgwalk.cmd.info": "CLI",
    "pgwalk.cmd.linux": "CLI",
    "pgwalk.cmd.dump_tree": "CLI",
    "pgwalk.cmd.decode_esr": "CLI",
    "pgwalk.cmd.schema": "CLI",
}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(list(spec.submodule_search_locations)[0])


def _sources() -> dict[str, Path]:
    """Every module of pgwalk (and of pgwalk.formats, installed from its own folder)."""
    out: dict[str, Path] = {}
    for pkg in ("pgwalk", "pgwalk.formats"):
        root = _package_dir(pkg)
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            name = ".".join((pkg, *rel))
            out.setdefault(name, path)
    return out


SOURCES = _sources()


class _Module:
    """One module's imports: the pgwalk modules it uses, and the private names it takes."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.deps: dict[str, int] = {}            # module -> first line
        self.private: list[str] = []
        tree = ast.parse(path.read_text(), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = self._resolve(package, node.module, node.level)
                if base is None:
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in SOURCES:
                        self._dep(sub, node.lineno)
                        aliases[a.asname or a.name] = sub
                    elif base == "pgwalk" and a.name.startswith("__"):
                        # the package's metadata (__version__): Python loads the package before
                        # any of its modules, so this adds no import, whatever the layer
                        continue
                    else:
                        self._dep(base, node.lineno)
                        if _is_private(a.name) and base != name:
                            self.private.append(f"line {node.lineno}: from {base} import {a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "pgwalk" or a.name.startswith("pgwalk."):
                        self._dep(a.name, node.lineno)
                        if a.asname:
                            aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                target = _dotted(node.value)
                mod = aliases.get(target) if target else None
                if mod is None and target in SOURCES:
                    mod = target
                if mod is not None and mod != name:
                    self.private.append(f"line {node.lineno}: {mod}.{node.attr}")
        self.deps.pop(name, None)

    def _dep(self, mod: str, line: int) -> None:
        while mod not in SOURCES and "." in mod:
            mod = mod.rpartition(".")[0]
        if mod in SOURCES:
            self.deps.setdefault(mod, line)

    @staticmethod
    def _resolve(package: str, module: str | None, level: int) -> str | None:
        if level:
            parts = package.split(".")
            parts = parts[:len(parts) - level + 1]
            base = ".".join(parts + ([module] if module else []))
        else:
            base = module or ""
        return base if base == "pgwalk" or base.startswith("pgwalk.") else None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


MODULES = {name: _Module(name, path) for name, path in SOURCES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_guard_sees_the_modules():
    assert {"pgwalk", "pgwalk.walk", "pgwalk.cmd.translate", "pgwalk.formats.descriptors"} <= set(SOURCES)
    # and their imports (a parser that found none would pass every rule below)
    assert "pgwalk.walk" in MODULES["pgwalk.bulk"].deps
    assert "pgwalk.formats.fields" in MODULES["pgwalk.formats.descriptors"].deps
    assert "pgwalk.cmd.common" in MODULES["pgwalk.cmd.translate"].deps


def test_every_module_has_a_layer():
    unplaced = sorted(set(SOURCES) - set(LAYER))
    assert not unplaced, f"place these modules in tests/test_layers.py LAYER (and the README): {unplaced}"
    assert set(LAYER.values()) <= set(LAYERS)


def test_no_import_cycles():
    graph = {name: set(m.deps) for name, m in MODULES.items()}
    assert _cycles(graph) == []


def test_no_private_names_across_modules():
    found = [f"{name} {p}" for name, m in sorted(MODULES.items()) for p in m.private]
    assert not found, "\n".join(found)


def test_lower_layers_never_import_higher():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    bad = []
    for name, m in sorted(MODULES.items()):
        if name not in LAYER:
            continue
        for dep, line in sorted(m.deps.items()):
            if dep in LAYER and rank[LAYER[dep]] > rank[LAYER[name]]:
                bad.append(f"{name} ({LAYER[name]}) imports {dep} ({LAYER[dep]}) at line {line}")
    assert not bad, "\n".join(bad)


def test_readme_layout_table_lists_every_module():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`pgwalk"):
            rows[cells[0].strip("`")] = cells[1]
    missing = sorted(set(SOURCES) - set(rows))
    assert not missing, f"the README's code-layout table lacks {missing}"
    wrong = {m: (rows[m], LAYER.get(m)) for m in SOURCES if rows[m] != LAYER.get(m)}
    assert not wrong, f"README layer vs tests/test_layers.py LAYER: {wrong}"


@pytest.mark.parametrize("source, expected", [
    ("from .walk import _Stop\n", ["from pgwalk.walk import _Stop"]),
    ("from . import at\nat._el3_ns(1)\n", ["pgwalk.at._el3_ns"]),
    ("import pgwalk.walk as W\nW._ADDR\n", ["pgwalk.walk._ADDR"]),
    ("from pgwalk import __version__\nfrom .walk import walk\n", []),
])
def test_the_private_name_rule_itself(tmp_path, source, expected):
    p = tmp_path / "probe.py"
    p.write_text(source)
    got = _Module("pgwalk.probe", p).private
    assert [g.split(": ", 1)[1] for g in got] == expected


def test_the_cycle_finder_itself():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
