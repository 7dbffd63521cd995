"""The captioning child's work: every image of a folder captioned by each captioner and scored.

Events (JSON lines on stdout, `model/train/events.py`), in order:
    start           {"images": to caption, "skipped": n, "captioners": [sources]}
    captions        {"file": relative name, "captions": [{"source": name or "user", "text", "score"}]}
                    per image; score null when unscored; empty captions are left out
    caption_failed  {"file", "source", "message": "<ExceptionType>: <message>"}: a captioner or the
                    scorer failed on that image (source "image" when the image cannot be decoded)
    progress        {"done", "total"} over the whole folder (skipped images count as done), whenever
                    the whole percent changes, and at the end
    stopped         {"reason": "SIGTERM", "checkpointed": true, "done"}: asked to stop, after the
                    current batch's images are emitted (a resumed run skips them)
    done            {"captioned": images with at least one caption, "failed": failures}
A failing batch is retried image by image, so only the image that fails is reported. A captioner
or scorer that cannot be loaded raises (the command reports it as `error`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from sanacloud.model.captioning.base import Captioner, Scorer, load_captioner, load_scorer
from sanacloud.model.captions import USER
from sanacloud.model.data.folder import ImageRecord, load_rgb, read_image_folder
from sanacloud.model.train.events import emit

T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptionerRef(Strict):
    source: str = Field(min_length=1, description="the registered name, written as each caption's source")
    family: str = Field(description="how it is loaded: sana-tiny-judge or transformers")
    path: Path | None = Field(default=None, description="the model folder (transformers)")


class CaptionSpec(Strict):
    data_dir: Path = Field(description="the image folder (metadata.jsonl / sidecar captions are the user's)")
    captioners: list[CaptionerRef] = Field(min_length=1)
    scorer: CaptionerRef | None = None
    skip: list[str] = Field(default_factory=list, description="relative names captioned by an earlier attempt")
    batch_size: int = Field(default=8, ge=1)
    device: str = Field(default="auto", description="cuda if available else cpu, or a torch device")


class StopRequested:
    """Set by SIGTERM; checked between batches."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = signal.signal(signal.SIGTERM, self._set)

    def _set(self, *_: object) -> None:
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class _Image:
    name: str
    record: ImageRecord
    pixels: Image.Image | None = None  # None until decoded, and when it cannot be
    captions: list[dict[str, Any]] = field(default_factory=list)


def _pixels(group: Sequence[_Image]) -> list[Image.Image]:
    return [item.pixels for item in group if item.pixels is not None]


def _each(items: list[_Image], work: Callable[[list[_Image]], Sequence[T]],
          on_error: Callable[[_Image, Exception], None]) -> list[tuple[_Image, T]]:
    """(item, result) of `work` on all items at once, or, when that fails, on each alone;
    `on_error(item, error)` for each item that fails alone."""
    if not items:
        return []
    try:
        results = work(items)
        if len(results) != len(items):
            raise ValueError(f"{len(results)} results for {len(items)} images")
        return list(zip(items, results, strict=True))
    except Exception as error:
        if len(items) == 1:
            on_error(items[0], error)
            return []
    return [pair for item in items for pair in _each([item], work, on_error)]


@dataclass
class _Run:
    captioners: list[tuple[str, Captioner]]
    scorer: tuple[str, Scorer] | None
    failed: int = 0

    def fail(self, item: _Image, source: str, error: Exception) -> None:
        self.failed += 1
        emit("caption_failed", file=item.name, source=source, message=f"{type(error).__name__}: {error}")

    def caption(self, batch: list[_Image]) -> None:
        """Each decoded image's captions by every captioner, the user's first; then their scores."""
        ready = [item for item in batch if item.pixels is not None]
        for source, captioner in self.captioners:
            def write(group: list[_Image], captioner: Captioner = captioner) -> list[str]:
                return captioner.caption(_pixels(group))

            def failed(item: _Image, error: Exception, source: str = source) -> None:
                self.fail(item, source, error)

            for item, text in _each(ready, write, failed):
                if text.strip():
                    item.captions.append({"source": source, "text": text.strip(), "score": None})
        for item in batch:
            if item.record.caption:
                item.captions.insert(0, {"source": USER, "text": item.record.caption, "score": None})
        if self.scorer is not None:
            self.score([item for item in ready if item.captions], *self.scorer)

    def score(self, items: list[_Image], source: str, scorer: Scorer) -> None:
        def scores(group: list[_Image]) -> list[list[float]]:
            images = [image for item in group for image in _pixels([item]) * len(item.captions)]
            flat = scorer.score(images, [c["text"] for item in group for c in item.captions])
            if len(flat) != len(images):
                raise ValueError(f"{len(flat)} scores for {len(images)} captions")
            out, at = [], 0
            for item in group:
                out.append(list(flat[at:at + len(item.captions)]))
                at += len(item.captions)
            return out

        def failed(item: _Image, error: Exception) -> None:
            self.fail(item, source, error)

        for item, values in _each(items, scores, failed):
            for caption, value in zip(item.captions, values, strict=True):
                caption["score"] = round(float(value), 4)


def run(spec: CaptionSpec) -> None:
    """Caption and score every image of `spec.data_dir` not in `spec.skip`, emitting events."""
    stop = StopRequested()
    try:
        _run(spec, stop)
    finally:
        stop.restore()


def _run(spec: CaptionSpec, stop: StopRequested) -> None:
    device = pick_device(spec.device)
    root = spec.data_dir.resolve()
    records = read_image_folder(root)
    skip = set(spec.skip)
    todo = [_Image(record.relative_to(root), record) for record in records
            if record.relative_to(root) not in skip]
    state = _Run(captioners=[(ref.source, load_captioner(ref.family, ref.path, device)) for ref in spec.captioners],
                 scorer=None if spec.scorer is None else
                 (spec.scorer.source, load_scorer(spec.scorer.family, spec.scorer.path, device)))
    emit("start", images=len(todo), skipped=len(records) - len(todo),
         captioners=[ref.source for ref in spec.captioners])
    # done and total count the whole folder, so that a resumed attempt's progress goes on from where
    # the earlier one stopped
    total, done, captioned = len(records), len(records) - len(todo), 0
    percent = done * 100 // total if total else 0
    for start in range(0, len(todo), spec.batch_size):
        batch = todo[start:start + spec.batch_size]
        for item in batch:
            try:
                item.pixels = load_rgb(item.record.path)
            except ValueError as error:
                state.fail(item, "image", error)
        state.caption(batch)
        for item in batch:
            emit("captions", file=item.name, captions=item.captions)
            captioned += any(c["source"] != USER for c in item.captions)
            done += 1
            if done * 100 // total != percent:
                percent = done * 100 // total
                emit("progress", done=done, total=total)
            item.pixels = None
        if stop.requested and done < total:
            emit("stopped", reason="SIGTERM", checkpointed=True, done=done)
            return
    if not todo:  # otherwise the last image's progress said 100 %
        emit("progress", done=done, total=total)
    emit("done", captioned=captioned, failed=state.failed)
