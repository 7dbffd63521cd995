"""Precomputed VAE latents and text embeddings, so training steps never run the encoders.

    latents = build_latent_cache(records, 1024, vae_encode, cache_dir, flip=True, key="sana-1600m@<rev>")
    texts = build_text_cache([r.caption for r in records], gemma_encode, cache_dir, key="gemma-2-2b@<rev>")

A cache is reused only for the same content and encoder: the latent cache's fingerprint covers every
image file's bytes (SHA-256, in record order), the pixel conversion's version, the resolution, the flip
flag and `key`; the text cache's covers the distinct captions and `key`. Captions do not touch the latent
cache and images do not touch the text cache, so editing a caption re-encodes only that side.

Caching fixes the crop: each image is resized to cover its bucket and center-cropped once
(`resize_and_crop(..., crop="center")`); random crops would need re-encoding every epoch. The
horizontal flip is the one augmentation kept: with flip=True the flipped image is encoded too.

Opening a cache loads it whole into memory (a 1024px latent is 32x32x32 values, 128 KiB in float32);
text embeddings are stored without their trailing padding and re-padded with zeros (mask 0) per batch.
Tensors keep the dtype the encoder returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sanacloud.model.data.buckets import Bucket, buckets_for, nearest_bucket, resize_and_crop
from sanacloud.model.data.folder import ImageRecord, load_rgb
from sanacloud.model.data.store import ShardWriter, build_once, file_sha256, fingerprint, load_shards, read_index
from sanacloud.model.imaging import CONVERSION_VERSION

EncodeImages = Callable[[torch.Tensor], torch.Tensor]  # (B,3,H,W) in [-1,1] -> latents (B,C,h,w)
EncodeTexts = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]  # -> (embeddings (B,L,D), mask (B,L))


@dataclass
class LatentCache:
    path: Path
    resolution: int
    flip: bool
    buckets: list[Bucket]  # per record, (height, width) in pixels
    latents: list[torch.Tensor]  # per record, (C,h,w)
    flipped: list[torch.Tensor] | None  # per record when flip, the horizontally flipped image's latent
    reused: bool = False  # True when an earlier build was found

    def __len__(self) -> int:
        return len(self.latents)

    def bucket(self, index: int) -> Bucket:
        return self.buckets[index]

    def latent(self, index: int, flipped: bool = False) -> torch.Tensor:
        if not flipped:
            return self.latents[index]
        if self.flipped is None:
            raise ValueError(f"latent cache {str(self.path)!r} was built with flip=False: no flipped latents")
        return self.flipped[index]

    @classmethod
    def open(cls, path: Path, reused: bool = True) -> LatentCache:
        index = read_index(path)
        if index is None or index.get("kind") != "latents":
            raise ValueError(f"{str(path)!r} is not a complete latent cache")
        tensors = load_shards(path, index)
        count, flip = int(index["count"]), bool(index["flip"])
        return cls(path, int(index["resolution"]), flip, [(h, w) for h, w in index["buckets"]],
                   [tensors[f"latent.{i}"] for i in range(count)],
                   [tensors[f"flipped.{i}"] for i in range(count)] if flip else None, reused)


@dataclass
class TextCache:
    path: Path
    embeddings: dict[str, torch.Tensor] = field(repr=False)  # caption -> (L_i, D), trailing padding trimmed
    masks: dict[str, torch.Tensor] = field(repr=False)  # caption -> (L_i,)
    lengths: dict[str, int] = field(repr=False)  # caption -> L, the encoder's padded length
    reused: bool = False

    def __contains__(self, caption: object) -> bool:
        return caption in self.embeddings

    def __len__(self) -> int:
        return len(self.embeddings)

    def get(self, caption: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding (L,D), mask (L,)) as the encoder gave them (padding positions are zeros, mask 0)."""
        embeddings, mask = self.batch([caption])
        return embeddings[0], mask[0]

    def batch(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(embeddings (B,L,D), mask (B,L)), L the largest encoder length among them (normally the fixed one)."""
        missing = [caption for caption in captions if caption not in self.embeddings]
        if missing:
            raise KeyError(f"{len(missing)} caption(s) not in text cache {str(self.path)!r}, e.g. {missing[0]!r}")
        length = max(self.lengths[caption] for caption in captions)
        first = self.embeddings[captions[0]]
        out = torch.zeros(len(captions), length, first.shape[-1], dtype=first.dtype)
        mask = torch.zeros(len(captions), length, dtype=self.masks[captions[0]].dtype)
        for row, caption in enumerate(captions):
            kept = self.embeddings[caption].shape[0]
            out[row, :kept] = self.embeddings[caption]
            mask[row, :kept] = self.masks[caption]
        return out, mask

    @classmethod
    def open(cls, path: Path, reused: bool = True) -> TextCache:
        index = read_index(path)
        if index is None or index.get("kind") != "texts":
            raise ValueError(f"{str(path)!r} is not a complete text cache")
        tensors = load_shards(path, index)
        captions: list[str] = index["captions"]
        return cls(path, {c: tensors[f"emb.{i}"] for i, c in enumerate(captions)},
                   {c: tensors[f"mask.{i}"] for i, c in enumerate(captions)},
                   dict(zip(captions, index["lengths"], strict=True)), reused)


def build_latent_cache(records: Sequence[ImageRecord], resolution: int, encode_images: EncodeImages,
                       cache_dir: str | Path, *, flip: bool, key: str, batch_size: int = 8) -> LatentCache:
    """Each record's image, center-cropped to its bucket and encoded once (and flipped, once more)."""
    if not records:
        raise ValueError("no records to encode")
    table = buckets_for(resolution)
    buckets = [nearest_bucket(record.width, record.height, table) for record in records]
    fp = fingerprint({"kind": "latents", "key": key, "resolution": resolution, "flip": flip, "crop": "center",
                      "conversion": CONVERSION_VERSION, "images": [file_sha256(record.path) for record in records]})

    def build(folder: Path) -> dict[str, object]:
        writer = ShardWriter(folder)
        for bucket in sorted(set(buckets)):
            members = [i for i, b in enumerate(buckets) if b == bucket]
            for start in range(0, len(members), batch_size):
                chunk = members[start:start + batch_size]
                pixels = torch.stack([_pixels(records[i], bucket) for i in chunk])  # (B,3,H,W)
                for i, latent in zip(chunk, _encode(encode_images, pixels), strict=True):
                    writer.add(f"latent.{i}", latent)
                if flip:
                    for i, latent in zip(chunk, _encode(encode_images, pixels.flip(-1)), strict=True):
                        writer.add(f"flipped.{i}", latent)
        writer.flush()
        return {"kind": "latents", "key": key, "resolution": resolution, "flip": flip, "count": len(records),
                "buckets": [list(b) for b in buckets], "shards": writer.shards}

    path, reused = build_once(Path(cache_dir), f"latents-{fp[:24]}", fp, build)
    return LatentCache.open(path, reused)


def build_text_cache(captions: Sequence[str], encode_texts: EncodeTexts, cache_dir: str | Path, *, key: str,
                     batch_size: int = 32) -> TextCache:
    """Every distinct caption, and always "" (for caption dropout and classifier-free guidance), encoded once."""
    distinct = sorted(set(captions) | {""})
    fp = fingerprint({"kind": "texts", "key": key, "captions": distinct})

    def build(folder: Path) -> dict[str, object]:
        writer = ShardWriter(folder)
        lengths: list[int] = []
        for start in range(0, len(distinct), batch_size):
            chunk = distinct[start:start + batch_size]
            embeddings, mask = _encode_texts(encode_texts, chunk)
            for offset, (embedding, row_mask) in enumerate(zip(embeddings, mask, strict=True)):
                kept = _kept_length(row_mask)  # drop trailing padding: a Gemma embedding is L=300 x D=2304
                writer.add(f"emb.{start + offset}", embedding[:kept])
                writer.add(f"mask.{start + offset}", row_mask[:kept])
                lengths.append(int(mask.shape[1]))
        writer.flush()
        return {"kind": "texts", "key": key, "captions": distinct, "lengths": lengths, "shards": writer.shards}

    path, reused = build_once(Path(cache_dir), f"texts-{fp[:24]}", fp, build)
    return TextCache.open(path, reused)


def _pixels(record: ImageRecord, bucket: Bucket) -> torch.Tensor:
    """(3,H,W) float32 in [-1,1]."""
    image = resize_and_crop(load_rgb(record.path), bucket, crop="center")
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0  # (H,W,3)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def _encode(encode_images: EncodeImages, pixels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        latents = encode_images(pixels)
    if latents.ndim != 4 or latents.shape[0] != pixels.shape[0]:
        raise ValueError(f"encode_images returned shape {tuple(latents.shape)} for pixels {tuple(pixels.shape)}; "
                         "expected (B,C,h,w) with the same B")
    return latents


def _encode_texts(encode_texts: EncodeTexts, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        embeddings, mask = encode_texts(captions)
    if embeddings.ndim != 3 or mask.ndim != 2 or embeddings.shape[:2] != mask.shape or len(mask) != len(captions):
        raise ValueError(f"encode_texts returned embeddings {tuple(embeddings.shape)} and mask {tuple(mask.shape)} "
                         f"for {len(captions)} captions; expected (B,L,D) and (B,L)")
    return embeddings, mask


def _kept_length(mask: torch.Tensor) -> int:
    """Up to and including the last attended position (at least one token)."""
    attended = torch.nonzero(mask).flatten()
    return max(1, int(attended[-1]) + 1) if len(attended) else 1
