"""The base-model families the platform knows how to train and serve.

An operator imports a family's weights as a base model (a `models` row with no tenant); jobs
then name it. The model registry (sanacloud.model.registry) owns each family's facts: its
architecture, native resolution, dtype and flow shift. The catalog adds only what the platform
decides: the resolutions a job or endpoint may ask for, the largest LoRA rank, and how many GPUs a
full-training job needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanacloud.model.registry import REGISTRY, ModelSpec
from sanacloud.platform.errors import InvalidInput


@dataclass(frozen=True)
class BaseModelFamily:
    spec: ModelSpec
    resolutions: tuple[int, ...]  # training and generation resolutions a request may ask for
    max_lora_rank: int = 256
    gpus_full: int = 1  # GPUs a full-training job needs by default

    @property
    def name(self) -> str:
        return self.spec.name

    def check_resolution(self, resolution: int) -> None:
        if resolution not in self.resolutions:
            raise InvalidInput(f"resolution {resolution} is not supported by {self.name}; "
                               f"choose one of {', '.join(map(str, self.resolutions))}")


def _family(name: str, resolutions: tuple[int, ...], **platform: int) -> BaseModelFamily:
    return BaseModelFamily(REGISTRY[name], resolutions, **platform)


FAMILIES: dict[str, BaseModelFamily] = {
    f.name: f
    for f in (
        _family("sana-tiny", (64, 128, 256), max_lora_rank=64),
        _family("sana-600m-512", (256, 512)),
        _family("sana-600m-1024", (512, 768, 1024)),
        _family("sana-1600m-1024", (512, 768, 1024), gpus_full=2),
        _family("sana-1600m-2048", (1024, 1536, 2048), gpus_full=4),
        _family("sana-1600m-4096", (2048, 3072, 4096), gpus_full=8),
    )
}
