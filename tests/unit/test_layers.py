"""design.md's layering covers the whole package: every top-level module or package is in a layer of the
import-linter contract, so a new module cannot slip outside the rules by not being named."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "videosynth"


def _layered() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in layers["layers"] for name in layer.split("|")}


def _top_level_modules() -> set[str]:
    found = {f"videosynth.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    found |= {f"videosynth.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    return found


def test_every_module_is_in_a_layer() -> None:
    assert _top_level_modules() - _layered() == set()


def test_every_layer_names_a_real_module() -> None:
    assert _layered() - _top_level_modules() == set()
