"""The layers import in one direction: `cli` composes everything; `api` and `workers` stand on
`platform`; `platform` imports neither of them nor `cli`, and of `model` only its pure data
modules; `model` imports nothing of the platform (it is usable alone)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What of `model` the platform may import: data with no torch behind it.
PLATFORM_MAY_IMPORT_OF_MODEL = {"sanacloud.model.registry", "sanacloud.model.train.spec"}
FORBIDDEN = {
    "platform": ("sanacloud.api", "sanacloud.workers", "sanacloud.cli", "sanacloud.model"),
    "api": ("sanacloud.workers", "sanacloud.cli"),
    "workers": ("sanacloud.api", "sanacloud.cli"),
    "model": ("sanacloud.platform", "sanacloud.api", "sanacloud.workers", "sanacloud.cli"),
}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def allowed_of_model(module: str) -> bool:
    """One of the pure data modules, or a package above one (as `from sanacloud.model import registry` names)."""
    return any(within(module, allowed) or (within(allowed, module) and allowed != module)
               for allowed in PLATFORM_MAY_IMPORT_OF_MODEL)


def crossings(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if layer == "platform" and allowed_of_model(module):
                continue
            if any(within(module, banned) for banned in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_below_itself(layer: str) -> None:
    assert crossings(layer) == []
