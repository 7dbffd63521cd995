"""A training attempt's files on the worker, and their way to and from object storage.

    <work>/jobs/<job>/attempt-<n>/data/       the dataset: images + metadata.jsonl
    <work>/jobs/<job>/attempt-<n>/out/        the trainer's output_dir (checkpoints land here)
    <work>/cache/<dataset>/<base model>/      latents and text embeddings, shared by attempts and jobs
    <work>/models/<base model>/               a base model fetched from object storage (model_files.py)

Every attempt starts from an empty folder and restores its checkpoint from object storage, so a
job resumes the same way on any worker.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from sanacloud.model.train import checkpoints
from sanacloud.platform.jobs.lifecycle import DatasetImage, RunContext
from sanacloud.platform.storage import ObjectStore, tenant_key
from sanacloud.workers.model_files import download_prefix, model_folder


class CorruptObject(RuntimeError):
    pass


class Workspace:
    def __init__(self, root: Path, context: RunContext, store: ObjectStore) -> None:
        self.context = context
        self.store = store
        self.root = root
        self.attempt_dir = root / "jobs" / context.job_id / f"attempt-{context.attempt}"
        self.data_dir = self.attempt_dir / "data"
        self.output_dir = self.attempt_dir / "out"
        self.cache_dir = root / "cache" / context.dataset_id / context.base_model_id

    def prepare(self) -> None:
        """Fresh folders, the dataset downloaded (and checked), the newest checkpoint restored."""
        shutil.rmtree(self.root / "jobs" / self.context.job_id, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.output_dir.mkdir()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        download_dataset(self.store, self.context.images, self.data_dir)
        if self.context.resume_from is not None:
            step, prefix = self.context.resume_from
            download_prefix(self.store, prefix, checkpoints.folder_for(self.output_dir, step))

    def base_model_path(self) -> Path:
        return model_folder(self.context.base_uri, self.context.base_model_id, self.store, self.root)

    def checkpoint_prefix(self, step: int) -> str:
        return tenant_key(self.context.tenant_id, "jobs", self.context.job_id, "checkpoints", f"step-{step:06d}") + "/"

    def upload_checkpoint(self, folder: Path, step: int) -> tuple[str, list[str]]:
        """Upload a published checkpoint folder; returns its prefix and the keys of its sample images."""
        prefix = self.checkpoint_prefix(step)
        self.store.delete_prefix(prefix)  # leftovers of an attempt that died mid-upload
        samples = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            content_type = "image/png" if path.suffix == ".png" else "application/octet-stream"
            with path.open("rb") as handle:
                self.store.put(prefix + relative, handle, path.stat().st_size, content_type)
            if relative.startswith("samples/"):
                samples.append(prefix + relative)
        return prefix, samples


def download_dataset(store: ObjectStore, images: tuple[DatasetImage, ...], folder: Path) -> None:
    """Write every image and a metadata.jsonl (file_name, text); each image's SHA-256 is checked."""
    lines = []
    for image in images:
        target = folder / image.name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("wb") as handle:
            for chunk in store.open(image.object_key):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != image.sha256:
            raise CorruptObject(f"dataset image {image.name!r} changed in storage (SHA-256 mismatch)")
        lines.append(json.dumps({"file_name": image.name, "text": image.caption}))
    (folder / "metadata.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
