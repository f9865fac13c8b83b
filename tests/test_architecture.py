"""The package's imports follow the layer table of ARCHITECTURE.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> tuple[dict[str, int], set[int]]:
    """{module: layer} and the layers whose modules may import each other, from the table."""
    layers, own = {}, set()
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].isdigit():
            continue
        layer = int(cells[0])
        for name in re.findall(r"`([a-z_.]+)`", cells[1]):
            layers[name.removeprefix("ganad_jax.") if name != "ganad_jax" else name] = layer
        if "its own layer" in cells[2]:
            own.add(layer)
    return layers, own


def _group(module: str) -> str:
    """A module's row in the table: its top-level module or package ("detectors", "nn", ...)."""
    parts = module.split(".")
    return "ganad_jax" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganad_jax"):
            if node.module == "ganad_jax":
                found.update(f"ganad_jax.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ganad_jax"))
    return found


def test_every_module_is_in_the_table_and_imports_only_what_its_layer_may():
    layers, own = _layers()
    wrong = []
    for path in sorted((ROOT / "ganad_jax").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        source = _group(module)
        assert source in layers, f"{module} is not in ARCHITECTURE.md's layer table"
        for target in map(_group, _imports(path)):
            if target == source:
                continue
            low, high = layers[target], layers[source]
            if low > high or (low == high and high not in own):
                wrong.append(f"{module} (layer {high}) imports {target} (layer {low})")
    assert wrong == []
