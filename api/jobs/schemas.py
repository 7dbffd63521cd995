"""Job requests: a LoRA fine-tune or a full training run, each hyperparameter optional or "auto"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from sanacloud.api.schemas import Name, RequestModel, Resolution, ResponseModel
from sanacloud.model.train.spec import DEFAULT_TARGETS, LoraTarget, LrScheduler, Precision, ZeroStage

Auto = Literal["auto"]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1200)]
# A word or a few (`sks`, `<my-style>`): no comma, since captions put it first followed by one.
Trigger = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^,\n]+$")]


class LoraSettings(RequestModel):
    rank: int = Field(default=16, ge=1, le=256)
    alpha: float | None = Field(default=None, gt=0, le=1024, description="defaults to the rank")
    dropout: float = Field(default=0.0, ge=0, lt=1)
    targets: list[LoraTarget] = Field(
        default_factory=lambda: list(DEFAULT_TARGETS), min_length=1,
        description="attention projections and Mix-FFN pointwise convs; the depthwise conv is never a target")


class DeepSpeedSettings(RequestModel):
    zero_stage: ZeroStage = 2


class Hyperparameters(RequestModel):
    learning_rate: Annotated[float, Field(ge=1e-8, le=1.0)] | Auto = "auto"
    steps: Annotated[int, Field(ge=1, le=1_000_000)] | Auto = Field(default="auto",
                                                                    description="optimizer steps; or give epochs")
    epochs: int | None = Field(default=None, ge=1, le=10_000)
    batch_size: Annotated[int, Field(ge=1, le=1024)] | Auto = "auto"
    gradient_accumulation_steps: int = Field(default=1, ge=1, le=128)
    resolution: Resolution | Auto = "auto"
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="random when omitted (and recorded)")
    checkpoint_interval: Annotated[int, Field(ge=1, le=1_000_000)] | Auto = Field(
        default="auto", description="steps between checkpoints")
    validation_prompts: list[Prompt] = Field(default_factory=list, max_length=16,
                                             description="default: up to 4 captions from the dataset")
    warmup_steps: Annotated[int, Field(ge=0, le=1_000_000)] | Auto = "auto"
    lr_scheduler: LrScheduler = "constant"
    max_grad_norm: Annotated[float, Field(ge=1e-6, le=1e6)] | Auto = "auto"
    flow_shift: Annotated[float, Field(ge=0.1, le=100.0)] | Auto = "auto"
    mixed_precision: Literal[Auto, Precision] = "auto"
    caption_dropout: float = Field(default=0.1, ge=0, le=1, description="drop captions this often, for CFG")
    instance_prompt: Prompt | None = Field(default=None, description="the caption of every image that has none, "
                                           "e.g. 'a photo of sks dog'")
    trigger: Trigger | None = Field(default=None, description="a word put first in every caption that lacks it; "
                                    "the promoted model records it, to prompt with")
    ema_decay: float | None = Field(default=None, gt=0, lt=1)
    gradient_checkpointing: bool = False

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> Hyperparameters:
        if self.epochs is not None and self.steps != "auto":
            raise ValueError("give either steps or epochs, not both")
        return self


class _JobCreateBase(RequestModel):
    name: Name | None = None
    dataset_id: str = Field(max_length=40)
    base_model: str = Field(max_length=100, description="a base model's name or id, see GET /v1/base-models")
    pool: str | None = Field(default=None, max_length=63, description="GPU pool name; default: the tenant's pool")
    gpus: int | None = Field(default=None, ge=1, le=64)
    priority: int = Field(default=0, ge=-100, le=100)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)


class LoraJobCreate(_JobCreateBase):
    type: Literal["lora"]
    lora: LoraSettings = Field(default_factory=LoraSettings)


class FullJobCreate(_JobCreateBase):
    type: Literal["full"]
    deepspeed: DeepSpeedSettings = Field(default_factory=DeepSpeedSettings)


JobCreate = Annotated[LoraJobCreate | FullJobCreate, Field(discriminator="type")]


class JobOut(ResponseModel):
    id: str
    name: str
    type: str
    status: str
    dataset_id: str | None
    base_model_id: str
    base_model: str = Field(description="the base model's name")
    pool_id: str
    pool: str = Field(description="the GPU pool's name")
    gpus: int
    priority: int
    requested: dict[str, Any]
    hyperparameters: dict[str, Any] = Field(description="what the job runs with, every 'auto' resolved")
    error: str | None
    cancel_requested_at: datetime | None
    attempt: int = Field(description="times admitted (a job resumes after preemption or a lost worker)")
    borrowed: bool = Field(description="running on borrowed capacity beyond the tenant's nominal quota: preemptible")
    step: int = Field(description="the newest training step a worker reported")
    wait_reason: str | None = Field(description="why a queued job is not admitted yet, naming what holds the GPUs "
                                                "it needs (a `waiting` event marks each new kind of wait); or "
                                                "why an admitted one has not started (its pod waits for a GPU "
                                                "node: a `pod_waiting` event); null otherwise")
    created_at: datetime
    updated_at: datetime
    admitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class JobEventOut(ResponseModel):
    id: int
    type: str
    payload: dict[str, Any]
    created_at: datetime


class EventPage(ResponseModel):
    items: list[JobEventOut]
    next_cursor: int | None = Field(description="pass as ?after= to read on; null when no more events yet")


class CheckpointOut(ResponseModel):
    id: str
    step: int
    metrics: dict[str, Any]
    created_at: datetime
    sample_urls: list[str]
