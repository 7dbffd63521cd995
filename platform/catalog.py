"""The base-model families the platform knows how to train and serve.

An operator imports a family's weights as a base model (a `models` row with no tenant); jobs
then name it. The family fixes what a job may ask for: resolutions, LoRA rank, training dtype.
The model package (sanacloud.model) holds the matching architecture configs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseModelFamily:
    name: str
    params_millions: int
    native_resolution: int
    resolutions: tuple[int, ...]  # training resolutions a job may request
    dtype: str  # the checkpoint's dtype: mixed precision on GPU follows it
    max_lora_rank: int = 256
    flow_shift: float = 3.0  # the paper's shift for 1024px; smaller images need less
    gpus_full: int = 1  # GPUs a full-training job needs by default


FAMILIES: dict[str, BaseModelFamily] = {
    f.name: f
    for f in (
        BaseModelFamily("sana-tiny", 4, 128, (64, 128, 256), "float32", max_lora_rank=64, flow_shift=1.0),
        BaseModelFamily("sana-600m-512", 592, 512, (256, 512), "float16", flow_shift=1.0),
        BaseModelFamily("sana-600m-1024", 592, 1024, (512, 768, 1024), "float16"),
        BaseModelFamily("sana-1600m-1024", 1604, 1024, (512, 768, 1024), "float16", gpus_full=2),
        BaseModelFamily("sana-1600m-2048", 1604, 2048, (1024, 1536, 2048), "bfloat16", gpus_full=4),
        BaseModelFamily("sana-1600m-4096", 1604, 4096, (2048, 3072, 4096), "bfloat16", gpus_full=8),
    )
}
