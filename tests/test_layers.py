"""The dependency rule: `platform` imports neither api nor workers, and of the model package only
its pure data modules; so neither platform nor the API imports torch (the API starts without it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.deadlines import scaled

PURE_MODEL_MODULES = {"sanacloud.model", "sanacloud.model.registry", "sanacloud.model.train",
                      "sanacloud.model.train.spec", "sanacloud.model.imaging", "sanacloud.model.metadata_jsonl"}
# Imports every module of the part, then lists what of ours and of torch it loaded.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("sanacloud", "torch"))))
"""


def loaded_by(part: str) -> set[str]:
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, f"sanacloud.{part}"], capture_output=True, text=True,
                         check=True, timeout=scaled(120))
    return set(json.loads(run.stdout))


@pytest.mark.parametrize("part", ["platform", "api"])
def test_importing_every_module_loads_only_the_pure_model_modules_and_no_torch(part: str) -> None:
    loaded = loaded_by(part)
    assert not {name for name in loaded if name.split(".")[0] == "torch"}
    assert {name for name in loaded if name.startswith("sanacloud.model")} <= PURE_MODEL_MODULES
    assert not {name for name in loaded if name.startswith("sanacloud.workers")}
    if part == "platform":
        assert not {name for name in loaded if name.startswith("sanacloud.api")}
