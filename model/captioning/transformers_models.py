"""Captioners and scorers from local transformers folders (family `transformers`).

`TransformersCaptioner`: an image-to-text model that captions an image alone, without a prompt
(BLIP, GIT, a vision-encoder-decoder, ...), loaded with `AutoModelForImageTextToText`.
`TransformersClipScorer`: a CLIP model; score = 100 * max(cos(image embedding, text embedding), 0),
the text truncated to the model's context, as torchmetrics' CLIPScore. Both read only local files
(`local_files_only=True`) and run in fp32 under `torch.no_grad()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, CLIPModel, CLIPProcessor


def _load_failed(folder: Path, what: str, error: Exception) -> ValueError:
    return ValueError(f"model folder {str(folder)!r} is not a usable {what}: {type(error).__name__}: {error}")


class TransformersCaptioner:
    """Batched `generate` of an image-to-text model, decoded without special tokens and stripped."""

    def __init__(self, folder: Path, device: str, max_new_tokens: int = 40) -> None:
        try:
            self.processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True,
                                                                     dtype=torch.float32)
        except (OSError, ValueError, KeyError) as error:
            raise _load_failed(folder, "image-to-text model", error) from None
        self.model.to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens

    @torch.no_grad()
    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        inputs = self.processor(images=[image.convert("RGB") for image in images], return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, torch.float32)
        tokens = self.model.generate(pixel_values=pixels, max_new_tokens=self.max_new_tokens)
        texts = self.processor.batch_decode(tokens, skip_special_tokens=True)
        return [str(text).strip() for text in texts]


class TransformersClipScorer:
    """CLIP score of each (image, text) pair, 0..100."""

    def __init__(self, folder: Path, device: str) -> None:
        try:
            self.processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
            self.model = CLIPModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        except (OSError, ValueError, KeyError) as error:
            raise _load_failed(folder, "CLIP model", error) from None
        self.model.to(device).eval()
        self.device = device
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    @torch.no_grad()
    def score(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        inputs = self.processor(text=list(texts), images=[image.convert("RGB") for image in images],
                                padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        output = self.model(**{key: value.to(self.device) for key, value in inputs.items()})
        image_embeds = torch.nn.functional.normalize(output.image_embeds.float(), dim=-1)  # (N, D)
        text_embeds = torch.nn.functional.normalize(output.text_embeds.float(), dim=-1)  # (N, D)
        cosine = (image_embeds * text_embeds).sum(dim=-1)  # (N,)
        return [float(value) for value in (100 * cosine.clamp(min=0)).cpu()]
