"""Maps the repository's code folders into the one `sanacloud` import namespace.

pyproject.toml holds the metadata; only the package list lives here, because it is computed:
every folder under the code folders (and migrations/, shipped for `sanacloud migrate`) that
holds files is a package, including folders of data only (sana-tiny's weights), which
setuptools ships only as (namespace) packages.
"""

from pathlib import Path

from setuptools import setup

CODE_FOLDERS = ("platform", "api", "workers", "model", "cli", "client", "migrations")


def packages() -> list[str]:
    found = []
    for folder in CODE_FOLDERS:
        for path in [Path(folder), *sorted(Path(folder).rglob("*"))]:
            hidden = any(part.startswith((".", "__")) for part in path.parts)
            if path.is_dir() and not hidden and any(child.is_file() for child in path.iterdir()):
                found.append("sanacloud." + ".".join(path.parts))
    return found


setup(
    packages=packages(),
    package_dir={f"sanacloud.{folder}": folder for folder in CODE_FOLDERS},
    package_data={"sanacloud.model": ["tiny/weights/*.json", "tiny/weights/*.md", "tiny/weights/*/*"],
                  "sanacloud.api": ["dashboard/build/*.html", "dashboard/build/assets/*"]},
    include_package_data=True,
)
