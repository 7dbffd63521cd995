"""A training attempt's files on the worker, and their way to and from object storage.

    <work>/jobs/<job>/attempt-<n>/data/       the dataset: images + metadata.jsonl
    <work>/jobs/<job>/attempt-<n>/class-data/ prior preservation's uploaded class images, if any
    <work>/jobs/<job>/attempt-<n>/out/        the trainer's output_dir (checkpoints land here)
    <work>/jobs/<job>/attempt-<n>/init/       the checkpoint a new job starts from (from_checkpoint), if any
    <work>/cache/<dataset>/<base model>/      latents and text embeddings, shared by attempts and jobs
    <work>/models/<base model>/               a base model fetched from object storage (model_files.py)

Every attempt starts from an empty folder and restores its checkpoint from object storage, so a
job resumes the same way on any worker.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import threading
from pathlib import Path

from sanacloud.model.metadata_jsonl import SCORED_KEY
from sanacloud.model.train import checkpoint_layout, checkpoints
from sanacloud.platform.jobs.lifecycle import DatasetImage, RunContext
from sanacloud.platform.storage import ObjectStore, keys
from sanacloud.workers.model_files import download_prefix, model_folder


def attempt_dir(root: Path, job_id: str, attempt: int) -> Path:
    return root / "jobs" / job_id / f"attempt-{attempt}"


class CorruptObject(RuntimeError):
    pass


class TransferAborted(RuntimeError):
    """A cancel (or the job's loss) stopped a download or upload midway."""


class Workspace:
    def __init__(self, root: Path, context: RunContext, store: ObjectStore) -> None:
        self.context = context
        self.store = store
        self.root = root
        self.attempt_dir = attempt_dir(root, context.job_id, context.attempt)
        self.data_dir = self.attempt_dir / "data"
        self.class_data_dir = self.attempt_dir / "class-data"
        self.output_dir = self.attempt_dir / "out"
        self.init_dir = self.attempt_dir / "init"
        self.cache_dir = root / "cache" / context.dataset_id / context.base_model_id

    def prepare(self, abort: threading.Event) -> None:
        """Fresh folders, the dataset downloaded (and checked), the newest checkpoint restored (or
        the one the job starts from, while it has none of its own).

        Raises TransferAborted once `abort` is set."""
        shutil.rmtree(self.root / "jobs" / self.context.job_id, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.output_dir.mkdir()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        download_dataset(self.store, self.context.images, self.data_dir, abort)
        if self.context.class_images:
            self.class_data_dir.mkdir()
            download_dataset(self.store, self.context.class_images, self.class_data_dir, abort)
        if self.context.resume_from is not None:
            step, prefix = self.context.resume_from
            download_prefix(self.store, prefix, checkpoints.folder_for(self.output_dir, step))
        elif self.context.init_from is not None:
            # Its exported weights only: the new job's optimizer and schedule start afresh.
            download_prefix(self.store, self.context.init_from, self.init_dir,
                            only=(checkpoint_layout.LORA_WEIGHTS, checkpoint_layout.TRANSFORMER_DIR + "/"))

    def base_model_path(self) -> Path:
        return self.model_path(self.context.base_uri, self.context.base_model_id)

    def model_path(self, uri: str, model_id: str) -> Path:
        return model_folder(uri, model_id, self.store, self.root)

    def checkpoint_prefix(self, step: int) -> str:
        return keys.checkpoint_prefix(self.context.tenant_id, self.context.job_id, step)

    def upload_checkpoint(self, folder: Path, step: int, abort: threading.Event) -> tuple[str, list[str]]:
        """Upload a published checkpoint folder; returns its prefix and the keys of its sample images.

        Raises TransferAborted within one read once `abort` is set, with what it uploaded deleted."""
        prefix = self.checkpoint_prefix(step)
        self.store.delete_prefix(prefix)  # leftovers of an attempt that died mid-upload
        samples = []
        try:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                relative = path.relative_to(folder).as_posix()
                content_type = "image/png" if path.suffix == ".png" else "application/octet-stream"
                with AbortableFile(path, abort) as handle:
                    self.store.put(prefix + relative, handle, path.stat().st_size, content_type)
                if keys.is_sample_image(relative):
                    samples.append(prefix + relative)
        except TransferAborted:
            self.discard_checkpoint(step)
            raise
        return prefix, samples

    def discard_checkpoint(self, step: int) -> None:
        """Delete an uploaded checkpoint that was never recorded."""
        self.store.delete_prefix(self.checkpoint_prefix(step))


class AbortableFile(io.FileIO):
    """A file opened for reading whose reads fail once `abort` is set, so that a store's upload of
    it stops within one chunk."""

    def __init__(self, path: Path, abort: threading.Event) -> None:
        super().__init__(path, "rb")
        self.abort = abort

    def read(self, size: int | None = -1, /) -> bytes:
        if self.abort.is_set():
            raise TransferAborted(f"upload of {self.name} aborted")
        return super().read(size)


def download_dataset(store: ObjectStore, images: tuple[DatasetImage, ...], folder: Path,
                     abort: threading.Event) -> None:
    """Write every image and a metadata.jsonl (file_name, text, and the scored captions where a
    captioning job wrote some); each image's SHA-256 is checked.

    Raises TransferAborted within one chunk once `abort` is set."""
    lines = []
    for image in images:
        target = folder / image.name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("wb") as handle:
            for chunk in store.open(image.object_key):
                if abort.is_set():
                    raise TransferAborted("dataset download aborted")
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != image.sha256:
            raise CorruptObject(f"dataset image {image.name!r} changed in storage (SHA-256 mismatch)")
        line: dict[str, object] = {"file_name": image.name, "text": image.caption}
        if image.scored:
            line[SCORED_KEY] = [{"source": source, "text": text, "score": score}
                                for source, text, score in image.scored]
        lines.append(json.dumps(line))
    (folder / "metadata.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
