"""Building sanacloud (what `pip install` does) warns about nothing and ships sana-tiny whole:
its weights, configs and model card, besides every module and the migrations. The base install is
the client: `sanacloud.client` works with none of the server's packages, and what it imports is in
the base dependencies."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.helpers.deadlines import scaled

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "celery", "kombu", "minio", "torch",
               "diffusers", "transformers", "PIL", "pydantic_settings", "uvicorn", "sanacloud.platform",
               "sanacloud.api", "sanacloud.workers", "sanacloud.model", "sanacloud.cli")
# Imports every module of sanacloud.client with the server's packages made unimportable, then uses it.
CLIENT_ALONE = """
import importlib, importlib.abc, os, pkgutil, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in sys.argv[1:]):
            raise ModuleNotFoundError(f"{name} is not installed (blocked)", name=name)
        return None

sys.meta_path.insert(0, Absent())
import sanacloud.client as client
for module in pkgutil.walk_packages(client.__path__, "sanacloud.client."):
    importlib.import_module(module.name)
os.environ.pop("SANACLOUD_API_KEY", None)
try:
    client.Client()
except client.ConfigurationError as error:
    print("ConfigurationError:", error)
try:
    client.Client("http://127.0.0.1:9", "sk_x", max_retries=0).health()
except client.APIConnectionError as error:
    print("APIConnectionError:", type(error).__name__)
"""

def code_folders() -> tuple[str, ...]:
    """setup.py's CODE_FOLDERS, read without running setup()."""
    for node in ast.parse((ROOT / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CODE_FOLDERS":
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py defines no CODE_FOLDERS")


BUILD = "from setuptools import build_meta; print(build_meta.build_wheel('dist'))"


def test_the_wheel_builds_without_warnings_and_ships_sana_tiny(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to setup.py
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in code_folders():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    card = source / "model" / "tiny" / "weights" / "README.md"
    if not card.exists():
        card.write_text("# sana-tiny\n")

    built = subprocess.run([sys.executable, "-W", "always", "-c", BUILD], cwd=source, capture_output=True,
                           text=True, timeout=scaled(180))
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "Warning" not in output and "absent from the `packages`" not in output, output

    wheel = source / "dist" / built.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    weights = "sanacloud/model/tiny/weights/"
    shipped = {name.removeprefix(weights) for name in names if name.startswith(weights)}
    in_repository = {str(path.relative_to(card.parent)) for path in card.parent.rglob("*") if path.is_file()}
    assert shipped == in_repository, f"missing {in_repository - shipped}, extra {shipped - in_repository}"
    assert {"sanacloud/cli/main.py", "sanacloud/migrations/env.py"} <= names


def test_the_client_works_without_the_server_packages() -> None:
    done = subprocess.run([sys.executable, "-c", CLIENT_ALONE, *SERVER_ONLY], capture_output=True, text=True,
                          timeout=scaled(60), env={**os.environ, "SANACLOUD_API_KEY": ""})
    assert done.returncode == 0, done.stderr
    assert "ConfigurationError: no API key: pass api_key=... or set SANACLOUD_API_KEY" in done.stdout
    assert "APIConnectionError: APIConnectionError" in done.stdout


def third_party_imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            found.update(name.split(".")[0] for name in names)
    return found - set(sys.stdlib_module_names) - {"sanacloud"}


def test_everything_the_client_imports_is_a_base_dependency() -> None:
    base = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
            for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    imported = third_party_imports(ROOT / "client")
    assert imported, "client/ imports no third-party module?"
    missing = {module: distributions.get(module) for module in imported
               if not {name.lower() for name in distributions.get(module, [module])} & base}
    assert missing == {}, f"client/ imports these, which the base install lacks: {missing}"


def dockerignore_admits(path: str, patterns: list[str]) -> bool:
    """Docker's rule, for the plain patterns the file uses: the last pattern that matches decides."""
    admitted = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.removeprefix("!")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare.rstrip("/") + "/"):
            admitted = negated
    return admitted


def test_the_image_gets_every_code_folder_through_its_build_context() -> None:
    """Every folder setup.py packages is copied into the image, and the build context sends it."""
    setup_py = ast.parse((ROOT / "setup.py").read_text())
    folders = next(ast.literal_eval(node.value) for node in setup_py.body
                   if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "CODE_FOLDERS")
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    sources = {source for line in dockerfile.splitlines() if line.startswith("COPY ") and "--from" not in line
               for source in line.split()[1:-1]}
    assert set(folders) <= sources, f"not copied into the image: {set(folders) - sources}"
    assert [source for source in sorted(sources) if not dockerignore_admits(source, patterns)] == []
