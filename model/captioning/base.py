"""What a captioner and a caption scorer are, and how a registered one is loaded by its family.

Families (the `family` of a registered captioner or scorer):
  `sana-tiny-judge`  built in, no files: reads the shipped sana-tiny's shape scenes (`tiny.py`);
  `transformers`     a local transformers folder (`transformers_models.py`): an image-to-text model
                     (BLIP and the like) as a captioner, a CLIP model as a scorer.
Nothing is fetched from a hub: a folder must hold the model and its processor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from PIL import Image

TINY = "sana-tiny-judge"
TRANSFORMERS = "transformers"
FAMILIES: tuple[str, ...] = (TINY, TRANSFORMERS)
# A transformers folder needs its config, weights and processor (image processor, tokenizer).
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_PROCESSOR = ("preprocessor_config.json", "processor_config.json")


class Captioner(Protocol):
    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One caption per image, in order."""
        ...


class Scorer(Protocol):
    def score(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        """One CLIP score per (image, text) pair, 0..100: 100 * max(cosine, 0), as torchmetrics' CLIPScore."""
        ...


def load_captioner(family: str, path: Path | None, device: str) -> Captioner:
    """The captioner of `family` (from `path` for a transformers one); ValueError saying why not."""
    _check_family(family)
    if family == TINY:
        from sanacloud.model.captioning.tiny import TinyCaptioner

        return TinyCaptioner()
    from sanacloud.model.captioning.transformers_models import TransformersCaptioner

    return TransformersCaptioner(check_folder(path), device)


def load_scorer(family: str, path: Path | None, device: str) -> Scorer:
    """The scorer of `family` (a CLIP folder at `path` for a transformers one); ValueError saying why not."""
    _check_family(family)
    if family == TINY:
        from sanacloud.model.captioning.tiny import TinyScorer

        return TinyScorer()
    from sanacloud.model.captioning.transformers_models import TransformersClipScorer

    return TransformersClipScorer(check_folder(path), device)


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown captioner family {family!r}; known: {', '.join(FAMILIES)}")


def check_folder(path: Path | None) -> Path:
    """`path` if it looks like a usable transformers model folder, else ValueError naming what is missing."""
    if path is None:
        raise ValueError(f"a {TRANSFORMERS!r} captioner or scorer needs a model folder (path), got none")
    if not path.is_dir():
        raise ValueError(f"model folder {str(path)!r} does not exist")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / name).is_file() for name in _WEIGHTS):
        missing.append(f"weights ({' or '.join(_WEIGHTS[::2])})")
    if not any((path / name).is_file() for name in _PROCESSOR):
        missing.append("an image processor (preprocessor_config.json)")
    if missing:
        raise ValueError(f"model folder {str(path)!r} is not a transformers model: it lacks {', '.join(missing)}")
    return path
