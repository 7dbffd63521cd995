"""A deterministic, resumable batch order over aspect-ratio buckets, and caption dropout.

Each batch holds indices from one bucket (so its images share one size). Epoch e's order depends only
on (seed, e): indices are shuffled inside each bucket, cut into batches, and the batches shuffled
together. A position in training is therefore just (epoch, position): `batches_from(epoch, position)`
continues exactly where a run stopped, with no generator state to save.

Partial batches: a bucket's leftover (fewer than batch_size) is dropped when the bucket fills at least
one whole batch (the dropped indices differ between epochs); a bucket smaller than batch_size is kept
as one smaller batch, so a tiny dataset still trains.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sanacloud.model.data.buckets import Bucket


def seeded_rng(*parts: object) -> random.Random:
    """A generator determined by `parts` alone (stable across processes and Python versions)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class PlannedBatch:
    epoch: int
    position: int  # index of this batch within its epoch
    bucket: Bucket
    indices: tuple[int, ...]


class BatchPlan:
    """Batches of record indices, one bucket each, in an order fixed by (seed, epoch)."""

    def __init__(self, records: Sequence[Any], bucket_of_each: Sequence[Bucket], batch_size: int, seed: int) -> None:
        if len(records) != len(bucket_of_each):
            raise ValueError(f"{len(records)} records but {len(bucket_of_each)} buckets; give one bucket per record")
        if not records:
            raise ValueError("no records to make batches of")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.size = len(records)
        self.by_bucket: dict[Bucket, list[int]] = {}
        for index, bucket in enumerate(bucket_of_each):
            self.by_bucket.setdefault((bucket[0], bucket[1]), []).append(index)
        self._epoch_cache: tuple[int, list[PlannedBatch]] | None = None

    def __len__(self) -> int:
        """Batches per epoch (the same every epoch)."""
        return sum(max(1, len(indices) // self.batch_size) for indices in self.by_bucket.values())

    def epoch(self, epoch: int) -> list[PlannedBatch]:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, not {epoch}")
        if self._epoch_cache is not None and self._epoch_cache[0] == epoch:
            return self._epoch_cache[1]
        rng = seeded_rng("batch-plan", self.seed, epoch)
        cut: list[tuple[Bucket, tuple[int, ...]]] = []
        for bucket in sorted(self.by_bucket):
            indices = list(self.by_bucket[bucket])
            rng.shuffle(indices)
            whole = len(indices) // self.batch_size
            if whole == 0:
                cut.append((bucket, tuple(indices)))
            else:
                cut += [(bucket, tuple(indices[i * self.batch_size:(i + 1) * self.batch_size])) for i in range(whole)]
        rng.shuffle(cut)
        batches = [PlannedBatch(epoch, position, bucket, indices) for position, (bucket, indices) in enumerate(cut)]
        self._epoch_cache = (epoch, batches)
        return batches

    def batches_from(self, epoch: int = 0, position: int = 0) -> Iterator[PlannedBatch]:
        """Endless: batch `position` of `epoch`, then the rest of that epoch, then the following epochs."""
        if not 0 <= position <= len(self):
            raise ValueError(f"position must be within 0..{len(self)}, not {position}")
        while True:
            yield from self.epoch(epoch)[position:]
            epoch, position = epoch + 1, 0

    def next_state(self, batch: PlannedBatch) -> tuple[int, int]:
        """(epoch, position) to resume from after `batch` has been used."""
        if batch.position + 1 >= len(self):
            return batch.epoch + 1, 0
        return batch.epoch, batch.position + 1


def drop_captions(captions: Sequence[str], p: float, rng: random.Random) -> list[str]:
    """Each caption replaced by "" with probability p (one draw per caption, in order, from `rng`)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"caption dropout probability must be within [0, 1], not {p}")
    return ["" if rng.random() < p else caption for caption in captions]
