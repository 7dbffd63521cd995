"""Training batches from the caches: `(latents (B,C,h,w), text_emb (B,L,D), text_mask (B,L))`.

    data = TrainingData(records, latents, texts, batch_size=4, seed=0, caption_dropout=0.1, flip=True)
    data.load_state_dict(checkpoint["data"])     # optional: resume
    for latents, text_emb, text_mask in data:    # endless, in BatchPlan order
        ...
        checkpoint["data"] = data.state_dict()   # resumes at the batch after the one just used

An image with several captions (`choices`: its texts with their probabilities, model/captions.py)
trains on one drawn per step. Randomness per batch (those draws, caption dropout, then flips)
comes from a generator seeded by (seed, epoch, position), so the generator's state is implied by
the (epoch, position) the state dict holds: a resumed run draws exactly what the uninterrupted run
would have.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch

from sanacloud.model.data.batches import BatchPlan, PlannedBatch, drop_captions, seeded_rng
from sanacloud.model.data.cache import LatentCache, TextCache
from sanacloud.model.data.folder import ImageRecord


class TrainingBatch(NamedTuple):
    latents: torch.Tensor  # (B,C,h,w)
    text_emb: torch.Tensor  # (B,L,D)
    text_mask: torch.Tensor  # (B,L)


class TrainingData:
    def __init__(self, records: Sequence[ImageRecord], latents: LatentCache, texts: TextCache, *, batch_size: int,
                 seed: int, caption_dropout: float = 0.0, flip: bool = False,
                 choices: Sequence[Sequence[tuple[str, float]]] | None = None) -> None:
        if len(latents) != len(records):
            raise ValueError(f"latent cache holds {len(latents)} images but there are {len(records)} records")
        if flip and not latents.flip:
            raise ValueError("flip=True needs a latent cache built with flip=True")
        if not 0.0 <= caption_dropout <= 1.0:
            raise ValueError(f"caption_dropout must be within [0, 1], not {caption_dropout}")
        self.choices = [list(c) for c in choices] if choices is not None else [[(r.caption, 1.0)] for r in records]
        if len(self.choices) != len(records) or not all(self.choices):
            raise ValueError(f"{len(self.choices)} caption choices for {len(records)} records; give at least one each")
        missing = [text for options in self.choices for text, _ in options if text not in texts]
        if missing or "" not in texts:
            shown = repr(missing[0]) if missing else "''"
            raise ValueError(f"text cache lacks {max(1, len(missing))} caption(s), e.g. {shown}; rebuild it")
        self.records, self.latents, self.texts = list(records), latents, texts
        self.seed, self.caption_dropout, self.flip = seed, caption_dropout, flip
        self.plan = BatchPlan(self.records, [latents.bucket(i) for i in range(len(records))], batch_size, seed)
        self.epoch, self.position = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[TrainingBatch]:
        """Endless, from the current state; the state advances as each batch is handed out."""
        for planned in self.plan.batches_from(self.epoch, self.position):
            batch = self.make(planned)
            self.epoch, self.position = self.plan.next_state(planned)
            yield batch

    def make(self, planned: PlannedBatch) -> TrainingBatch:
        rng = seeded_rng("training-batch", self.seed, planned.epoch, planned.position)
        captions = self._captions(planned, rng)
        flips = [self.flip and rng.random() < 0.5 for _ in planned.indices]
        latents = torch.stack([self.latents.latent(i, flipped) for i, flipped in zip(planned.indices, flips,
                                                                                   strict=True)])
        text_emb, text_mask = self.texts.batch(captions)
        return TrainingBatch(latents, text_emb, text_mask)

    def captions_of(self, planned: PlannedBatch) -> list[str]:
        """The captions batch `planned` trains on (drawn, then dropped out), as `make` draws them."""
        return self._captions(planned, seeded_rng("training-batch", self.seed, planned.epoch, planned.position))

    def _captions(self, planned: PlannedBatch, rng: random.Random) -> list[str]:
        return drop_captions([self._caption(i, rng) for i in planned.indices], self.caption_dropout, rng)

    def _caption(self, index: int, rng: random.Random) -> str:
        """The record's one caption, or one drawn by probability (a draw only when there is a choice,
        so that a set of single captions trains on the same sequence as before choices existed)."""
        options = self.choices[index]
        if len(options) == 1:
            return options[0][0]
        return rng.choices([text for text, _ in options], weights=[p for _, p in options])[0]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.plan.batch_size, "records": len(self.records)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, mine in (("seed", self.seed), ("batch_size", self.plan.batch_size), ("records", len(self.records))):
            if state.get(name, mine) != mine:
                raise ValueError(f"cannot resume: the saved data state has {name}={state[name]!r}, this run {mine!r}; "
                                 "resume with the same dataset, seed and batch size")
        epoch, position = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= position < len(self.plan):
            raise ValueError(f"cannot resume at epoch {epoch}, position {position}: "
                             f"an epoch has {len(self.plan)} batches")
        self.epoch, self.position = epoch, position
