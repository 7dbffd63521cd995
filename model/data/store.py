"""Cache folders that are complete or absent: safetensors shards plus an `index.json`, built in a temporary
folder and renamed into place only when everything is written.

A build that raises removes its temporary folder; one killed outright leaves a `.<name>.tmp-*` folder
that no reader ever mistakes for a cache (it may be deleted by hand). A final folder whose index is
missing, unreadable, of another format or fingerprint is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

FORMAT = 1
INDEX_NAME = "index.json"
SHARD_BYTES = 256 << 20


def fingerprint(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_index(folder: Path, expected_fingerprint: str | None = None) -> dict[str, Any] | None:
    """The folder's index when it describes a complete cache (of that fingerprint), else None."""
    try:
        index = json.loads((folder / INDEX_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        return None
    if expected_fingerprint is not None and index.get("fingerprint") != expected_fingerprint:
        return None
    shards = index.get("shards")
    if not isinstance(shards, list) or not all((folder / str(shard)).is_file() for shard in shards):
        return None
    return index


def build_once(cache_dir: Path, name: str, fp: str, build: Callable[[Path], dict[str, Any]]) -> tuple[Path, bool]:
    """`cache_dir/name`, built by `build(tmp)` (which writes shards and returns the index) unless a complete
    cache of fingerprint `fp` is already there. Returns (folder, reused)."""
    final = cache_dir / name
    if read_index(final, fp) is not None:
        return final, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        index = build(tmp) | {"format": FORMAT, "fingerprint": fp}
        _write_synced(tmp / INDEX_NAME, json.dumps(index, ensure_ascii=False, indent=1).encode())
        if final.exists() and read_index(final, fp) is None:
            shutil.rmtree(final)  # stale or half-copied by hand: replace it
        try:
            os.rename(tmp, final)
        except OSError:
            if read_index(final, fp) is None:  # not another process's identical build: a real failure
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, False


class ShardWriter:
    """Named tensors into `shard-00000.safetensors`, `shard-00001...`, each up to about SHARD_BYTES."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.shards: list[str] = []
        self._pending: dict[str, torch.Tensor] = {}
        self._bytes = 0

    def add(self, name: str, tensor: torch.Tensor) -> None:
        # an own, contiguous CPU copy: safetensors refuses views that share storage
        self._pending[name] = tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        self._bytes += tensor.numel() * tensor.element_size()
        if self._bytes >= SHARD_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        name = f"shard-{len(self.shards):05d}.safetensors"
        save_file(self._pending, str(self.folder / name))
        _fsync(self.folder / name)
        self.shards.append(name)
        self._pending, self._bytes = {}, 0


def load_shards(folder: Path, index: dict[str, Any]) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for shard in index["shards"]:
        tensors |= load_file(str(folder / shard))
    return tensors


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), path.open("rb") as file:
        os.fsync(file.fileno())
