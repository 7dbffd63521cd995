"""The layers import in one direction: `cli` composes everything; `api` and `workers` stand on
`platform`; `platform` imports neither of them nor `cli`, and of `model` only its pure data
modules; `model` imports nothing of the platform (it is usable alone). So neither the platform nor
the API loads torch (the API starts without it). `client` (the SDK and the user commands) imports
nothing of the server, and the SDK itself (all of `client` but `commands/`) nothing but the standard
library, httpx and pydantic."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.deadlines import scaled

ROOT = Path(__file__).resolve().parents[1]
# What of `model` the platform may import: data with no torch behind it.
PURE_MODEL_MODULES = {"sanacloud.model.registry", "sanacloud.model.train.spec", "sanacloud.model.imaging",
                      "sanacloud.model.metadata_jsonl", "sanacloud.model.train.checkpoint_layout",
                      "sanacloud.model.sidecar_captions", "sanacloud.model.captions",
                      "sanacloud.model.captioning", "sanacloud.model.captioning.base"}
FORBIDDEN = {
    "platform": ("sanacloud.api", "sanacloud.workers", "sanacloud.cli", "sanacloud.model"),
    "api": ("sanacloud.workers", "sanacloud.cli"),
    "workers": ("sanacloud.api", "sanacloud.cli"),
    "model": ("sanacloud.platform", "sanacloud.api", "sanacloud.workers", "sanacloud.cli"),
    "client": ("sanacloud.platform", "sanacloud.api", "sanacloud.workers", "sanacloud.model", "sanacloud.cli"),
}
SDK_THIRD_PARTY = {"httpx", "pydantic"}
# Imports every module of the part, then lists what of ours and of torch it loaded.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("sanacloud", "torch"))))
"""


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def pure_model_module(module: str) -> bool:
    """One of the pure data modules, or a package above one (as `from sanacloud.model import registry` names)."""
    return any(within(module, pure) or (within(pure, module) and pure != module) for pure in PURE_MODEL_MODULES)


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def crossings(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if layer == "platform" and pure_model_module(module):
                continue
            if any(within(module, banned) for banned in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_below_itself(layer: str) -> None:
    """Every import statement, lazy ones included."""
    assert crossings(layer) == []


def loaded_by(part: str) -> set[str]:
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, f"sanacloud.{part}"], capture_output=True, text=True,
                         check=True, timeout=scaled(120))
    return set(json.loads(run.stdout))


@pytest.mark.parametrize("part", ["platform", "api"])
def test_importing_every_module_loads_only_the_pure_model_modules_and_no_torch(part: str) -> None:
    loaded = loaded_by(part)
    assert not {name for name in loaded if name.split(".")[0] == "torch"}
    assert {name for name in loaded if within(name, "sanacloud.model")} <= PURE_MODEL_MODULES | {
        "sanacloud.model", "sanacloud.model.train"}
    assert not {name for name in loaded if within(name, "sanacloud.workers") or within(name, "sanacloud.cli")}
    if part == "platform":
        assert not {name for name in loaded if within(name, "sanacloud.api")}


def sdk_imports_outside_its_allowance(path: Path) -> list[str]:
    allowed = set(sys.stdlib_module_names) | SDK_THIRD_PARTY
    return sorted(module for module in imported_modules(path) if module.split(".")[0] not in allowed
                  and not within(module, "sanacloud.client"))


def test_the_sdk_imports_only_the_standard_library_httpx_and_pydantic() -> None:
    """Every module of `client` but the CLI's `commands/` (which may use typer and rich)."""
    sdk = [path for path in sorted((ROOT / "client").rglob("*.py")) if "commands" not in path.relative_to(ROOT).parts]
    assert sdk, "no SDK modules found"
    bad = {str(path.relative_to(ROOT)): found for path in sdk if (found := sdk_imports_outside_its_allowance(path))}
    assert bad == {}


def test_importing_every_client_module_loads_nothing_of_the_server() -> None:
    loaded = loaded_by("client")
    assert sorted(name for name in loaded if not within(name, "sanacloud.client") and name != "sanacloud") == []
