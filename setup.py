"""Maps the repository's code folders into the one `sanacloud` import namespace.

pyproject.toml holds the metadata; only the package list lives here, because it is computed:
every folder under the code folders (and migrations/, shipped for `sanacloud migrate`)
that holds Python files is a package.
"""

from pathlib import Path

from setuptools import setup

CODE_FOLDERS = ("platform", "api", "workers", "model", "migrations")


def packages() -> list[str]:
    found = []
    for folder in CODE_FOLDERS:
        for path in [Path(folder), *sorted(Path(folder).rglob("*"))]:
            if path.is_dir() and "__pycache__" not in path.parts and any(path.glob("*.py")):
                found.append("sanacloud." + ".".join(path.parts))
    return found


setup(
    packages=packages(),
    package_dir={f"sanacloud.{folder}": folder for folder in CODE_FOLDERS},
    package_data={"sanacloud.model": ["tiny/weights/*.json", "tiny/weights/*/*"]},
    include_package_data=True,
)
