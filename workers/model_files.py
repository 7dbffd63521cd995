"""Where a model's files are on this worker: shipped, a local path, or fetched from object storage.

    builtin://sana-tiny        the weights shipped in the package
    s3://<bucket>/<prefix>     an operator's upload to the platform's bucket
    store://<prefix>           a promoted model kept by the platform itself
    /a/path  or  file:///...   a folder on the worker (a mounted volume)

Fetched folders are cached under `<work>/models/<model id>/`, downloaded whole or not at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sanacloud.platform.serving.promotion import STORE_SCHEME
from sanacloud.platform.storage import ObjectStore


def model_folder(uri: str, model_id: str, store: ObjectStore, work_dir: Path) -> Path:
    if uri.startswith("builtin://"):
        if uri != "builtin://sana-tiny":
            raise ValueError(f"unknown built-in model {uri!r}")
        from sanacloud.model.tiny import WEIGHTS

        return WEIGHTS
    if uri.startswith("s3://"):
        return _fetched(uri.removeprefix("s3://").split("/", 1)[1].rstrip("/") + "/", model_id, store, work_dir)
    if uri.startswith(STORE_SCHEME):
        return _fetched(uri.removeprefix(STORE_SCHEME), model_id, store, work_dir)
    return Path(uri.removeprefix("file://"))


def download_prefix(store: ObjectStore, prefix: str, folder: Path, only: tuple[str, ...] = ("",)) -> None:
    """Every object under `prefix` (`only`: those whose path under it starts with one of these) into `folder`."""
    found = False
    for info in store.list(prefix):
        relative = info.key.removeprefix(prefix)
        if not relative.startswith(only):
            continue
        found = True
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            for chunk in store.open(info.key):
                handle.write(chunk)
    if not found:
        raise FileNotFoundError(f"nothing stored under {prefix!r}" + (f" in {', '.join(only)}" if any(only) else ""))


def _fetched(prefix: str, model_id: str, store: ObjectStore, work_dir: Path) -> Path:
    folder = work_dir / "models" / model_id
    if not folder.exists():
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        download_prefix(store, prefix, partial)
        partial.rename(folder)
    return folder
