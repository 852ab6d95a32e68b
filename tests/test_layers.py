"""The package's layers: imports point down the list in ARCHITECTURE.md, never up, and no
two packages import each other. Imports are read with ``ast`` (module-level and
function-local alike), so a lazy import inside a function cannot hide an upward edge."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"

# Lowest first; a module may import its own layer and the layers before it.
LAYERS = ["core", "data", "models", "hub", "training", "sampling", "metrics", "ui", "apps", "cli"]
FACADE = {"__init__", "__main__", "_legacy_paths"}  # the top-level entry points


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every ganforge import in ``path``."""
    me = _module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append((mod, node.lineno))
            if node.module is None or mod == "ganforge":  # from ganforge import x
                out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
    return [(m, line) for m, line in out if m == "ganforge" or m.startswith("ganforge.")]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _edges() -> list[tuple[str, str, str]]:
    """``(importing layer, imported layer, "file:line")`` for imports across packages."""
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        src = _layer(_module_name(path))
        for mod, line in _imports(path):
            dst = _layer(mod)
            if src and dst and src != dst:
                edges.append((src, dst, f"{path.relative_to(SRC.parent)}:{line}"))
    return edges


def test_every_package_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if not p.name.startswith(".")}
    tops -= {"__pycache__", "configs", "weights"} | FACADE
    assert tops <= set(LAYERS), f"packages without a layer: {sorted(tops - set(LAYERS))}"


def test_imports_point_down_the_layers():
    up = [
        f"{where}: {src} imports {dst}"
        for src, dst, where in _edges()
        if src not in FACADE and dst not in FACADE and LAYERS.index(dst) > LAYERS.index(src)
    ]
    facade = [f"{where}: {src} imports the top-level ganforge" for src, dst, where in _edges()
              if dst in FACADE and src not in FACADE]  # fmt: skip
    assert not up + facade, "upward imports:\n" + "\n".join(up + facade)


def test_no_package_cycles():
    graph: dict[str, set[str]] = {}
    for src, dst, _ in _edges():
        graph.setdefault(src, set()).add(dst)

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        for n in graph.get(a, ()):
            if n == b or (n not in seen and reaches(n, b, seen | {n})):
                return True
        return False

    cycles = sorted(a for a in graph if reaches(a, a, {a}))
    assert not cycles, f"packages in an import cycle: {cycles}"


def test_old_module_paths_still_import_with_a_warning():
    from ganforge.sampling import rejection

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import ganforge.rejection as old  # noqa: F401  (the point of the test)
    assert old is rejection
    assert any("ganforge.sampling.rejection" in str(w.message) for w in caught)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["list", "presets"]])
def test_help_does_not_import_torch(argv):
    code = (
        "import sys\nfrom ganforge.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
