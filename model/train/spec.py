"""The trainer's input: one JSON file (`python -m sanacloud.model.train --spec spec.json`).

The platform's job requests take their choices from here (LoRA targets, schedulers, precisions,
ZeRO stages), so a job the API accepts is one the trainer runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LoraTarget = Literal["to_q", "to_k", "to_v", "to_out.0", "conv_inverted", "conv_point", "linear_1", "linear_2"]
DEFAULT_TARGETS: list[LoraTarget] = ["to_q", "to_k", "to_v", "to_out.0", "conv_inverted", "conv_point"]
LrScheduler = Literal["constant", "linear", "cosine"]
Precision = Literal["fp32", "fp16", "bf16"]
PRECISION_OF_DTYPE: dict[str, Precision] = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
ZeroStage = Literal[2, 3]
# Which of an image's captions it trains on (its user caption and those captioners wrote, each with
# a CLIP score): the user's if it has one, else the best-scoring; the best-scoring; or each step's
# drawn from all of them with a probability rising with the score (model/data/captions.py).
CaptionChoice = Literal["user_first", "best", "weighted"]
# What a run does once its loss or grad norm is no longer finite (model/train/divergence.py): fail at
# the next logging step, or warn once and train on.
OnDivergence = Literal["stop", "continue"]
# NVlabs/Sana's released training configs (`clip_thr_temperature`).
DEFAULT_CAPTION_TEMPERATURE = 0.1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSpec(Strict):
    rank: int = Field(default=16, ge=1, le=256)
    alpha: float | None = Field(default=None, gt=0, description="default: the rank")
    dropout: float = Field(default=0.0, ge=0, lt=1)
    targets: list[LoraTarget] = Field(default_factory=lambda: list(DEFAULT_TARGETS), min_length=1)


class DeepSpeedSpec(Strict):
    zero_stage: ZeroStage = 2


class PriorSpec(Strict):
    """Prior preservation (DreamBooth): class images trained alongside the instance images, so that a
    LoRA taught "a photo of sks dog" does not forget what any dog looks like."""

    class_prompt: str = Field(min_length=1, description="the caption of every class image")
    class_data_dir: Path | None = Field(default=None, description="uploaded class images (a folder like data_dir)")
    num_class_images: int = Field(default=100, ge=1, le=10000,
                                  description="class images to train with; those class_data_dir lacks are generated "
                                              "by the base model from class_prompt")
    loss_weight: float = Field(default=1.0, gt=0, le=100,
                               description="the class images' loss relative to the instances'")


class TrainSpec(Strict):
    """One training run. The knobs for speed, each with a default that suits the device:

    - `mixed_precision`: "auto" is the base checkpoint's dtype on a GPU (the registry's dtype rule:
      fp16 for the released 1024px checkpoints, with a gradient scaler; bf16 for the 2K/4K ones) and
      fp32 on a CPU. Master weights (what the optimizer updates) stay fp32; a LoRA run keeps the
      frozen base in the autocast dtype, as diffusers' LoRA scripts do.
    - `compile`: `torch.compile` the transformer's training forward. "auto" is on with CUDA and off on
      a CPU (where compiling costs more than a short run saves), and off under ZeRO-3, whose
      parameter gathering hooks break compiled graphs. Checkpoints, samples and EMA use the
      uncompiled module, so they are the same either way.
    - `gradient_checkpointing`: recompute activations in the backward instead of storing them; it
      saves memory at the cost of speed (about a third more compute), so it is off unless a batch
      does not fit.

    On CUDA the trainer also allows TF32 matmuls, uses fused AdamW, and reads values back from the
    GPU only at logging intervals (`log_every`).
    """

    model: str = Field(description="a registry name, e.g. sana-tiny")
    model_path: Path = Field(description="the base model's diffusers-format folder")
    data_dir: Path = Field(description="images and a metadata.jsonl (file_name, text)")
    output_dir: Path = Field(description="checkpoints, samples, exports; an existing run here is resumed")
    cache_dir: Path | None = Field(default=None, description="latent/text caches; default output_dir/cache")
    type: Literal["lora", "full"] = "lora"
    lora: LoraSpec = Field(default_factory=LoraSpec)
    deepspeed: DeepSpeedSpec = Field(default_factory=DeepSpeedSpec)

    steps: int = Field(ge=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=1e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    lr_scheduler: LrScheduler = "constant"
    warmup_steps: int = Field(default=0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = 0
    resolution: int | None = Field(default=None, description="default: the model's native resolution")
    flow_shift: float | None = Field(default=None, gt=0, description="default: the model's")
    logit_mean: float = 0.0
    logit_std: float = Field(default=1.0, gt=0)
    caption_dropout: float = Field(default=0.1, ge=0, le=1)
    instance_prompt: str | None = Field(default=None, description="the caption of images that have none")
    trigger: str | None = Field(default=None, description="a word put first in every caption that lacks it")
    caption_choice: CaptionChoice = "user_first"
    caption_temperature: float = Field(default=DEFAULT_CAPTION_TEMPERATURE, gt=0, le=10,
                                       description="weighted: P(caption) ~ score^(1/temperature)")
    prior: PriorSpec | None = None
    flip: bool = False
    mixed_precision: Precision | Literal["auto"] = Field(
        default="auto", description="auto: the checkpoint's dtype on a GPU, fp32 on a CPU")
    gradient_checkpointing: bool = Field(default=False, description="less memory, slower steps")
    compile: bool | Literal["auto"] = Field(
        default="auto", description="torch.compile the transformer; auto: on with CUDA except under ZeRO-3")
    ema_decay: float | None = Field(default=None, gt=0, lt=1)
    on_divergence: OnDivergence = Field(
        default="stop", description="a NaN or inf loss or grad norm: stop fails the run at the next logging step "
        "(no checkpoint of diverged weights); continue warns once and trains on")
    init_from: Path | None = Field(
        default=None, description="a checkpoint folder whose exported weights a fresh run starts from (a LoRA "
        "run: pytorch_lora_weights.safetensors, same rank and targets; a full run: transformer/); optimizer, "
        "schedule and step start afresh. Ignored once the run has a checkpoint of its own")

    checkpoint_interval: int = Field(default=0, ge=0, description="0: only at the end")
    keep_checkpoints: int = Field(default=3, ge=1)
    validation_prompts: list[str] = Field(default_factory=list)
    validation_seed: int = 0
    validation_steps: int = Field(default=20, ge=1)
    guidance_scale: float = Field(default=4.5, ge=1)
    log_every: int = Field(default=1, ge=1)

    def for_device(self, device_type: str, checkpoint_dtype: str) -> TrainSpec:
        """This spec with its "auto" knobs decided for a device ("cuda", "cpu") and a base checkpoint's
        dtype (the registry's ModelSpec.dtype)."""
        gpu = device_type == "cuda"
        precision = self.mixed_precision
        if precision == "auto":
            precision = PRECISION_OF_DTYPE[checkpoint_dtype] if gpu else "fp32"
        compile_ = self.compile
        if compile_ == "auto":
            compile_ = gpu and not (self.type == "full" and self.deepspeed.zero_stage == 3)
        return self.model_copy(update={"mixed_precision": precision, "compile": compile_})

    def caption_for(self, caption: str) -> str:
        return training_caption(caption, instance_prompt=self.instance_prompt, trigger=self.trigger)

    @model_validator(mode="after")
    def _check(self) -> TrainSpec:
        if self.checkpoint_interval > self.steps:
            raise ValueError(f"checkpoint_interval {self.checkpoint_interval} exceeds steps {self.steps}")
        return self


def training_caption(caption: str, *, instance_prompt: str | None, trigger: str | None) -> str:
    """What an image trains on: its caption, else the instance prompt (DreamBooth's "a photo of sks
    dog"); with a trigger word, that word first, unless the text has it already as a word."""
    text = caption.strip() or (instance_prompt or "").strip()
    if not trigger or re.search(rf"(?<!\w){re.escape(trigger)}(?!\w)", text):
        return text
    return f"{trigger}, {text}" if text else trigger
