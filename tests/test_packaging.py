"""Building sanacloud (what `pip install` does) warns about nothing and ships sana-tiny whole:
its weights, configs and model card, besides every module and the migrations."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers.deadlines import scaled

ROOT = Path(__file__).resolve().parents[1]

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
