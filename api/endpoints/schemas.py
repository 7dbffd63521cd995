from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from sanacloud.api.schemas import Name, RequestModel, Resolution, ResponseModel
from sanacloud.platform.serving.replicas import MAX_REPLICAS

Sampler = Literal["dpm", "euler"]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1200)]
Steps = Annotated[int, Field(ge=1, le=100)]
Guidance = Annotated[float, Field(ge=1.0, le=20.0)]


class GenerationDefaults(RequestModel):
    steps: Steps = 20
    guidance: Guidance = 4.5
    resolution: Resolution | None = Field(default=None, description="default: the model's native resolution")
    sampler: Sampler = Field(default="dpm", description="dpm: Flow-DPM-Solver; euler: Flow-Euler")


class EndpointCreate(RequestModel):
    name: Name
    model: str = Field(max_length=100, description="your model's id, or a base model's name or id")
    pool: str | None = Field(default=None, max_length=63, description="GPU pool; default: the tenant's pool")
    min_replicas: int = Field(default=0, ge=0, le=1, description="1 keeps the model loaded; 0 scales to zero")
    max_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS,
                              description="replicas under load, each a GPU of your quota; a single-machine "
                                          "platform (the local executor) runs one")
    idle_timeout_s: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    rate_limit_per_minute: int = Field(default=60, ge=1, le=100_000)
    defaults: GenerationDefaults = Field(default_factory=GenerationDefaults)


class EndpointUpdate(RequestModel):
    name: Name | None = None
    min_replicas: int | None = Field(default=None, ge=0, le=1)
    max_replicas: int | None = Field(default=None, ge=1, le=MAX_REPLICAS)
    idle_timeout_s: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    defaults: GenerationDefaults | None = None


class EndpointOut(ResponseModel):
    id: str
    name: str
    model_id: str
    pool_id: str
    status: str = Field(description="cold, loading, ready, scaling_down or failed")
    min_replicas: int
    max_replicas: int
    replicas: int = Field(description="replicas (GPUs) held now: 0 when cold")
    idle_timeout_s: int
    rate_limit_per_minute: int
    defaults: dict[str, Any]
    last_request_at: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class GenerateRequest(RequestModel):
    prompt: Prompt
    negative_prompt: str = Field(default="", max_length=1200)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="random when omitted (and recorded)")
    steps: Steps | None = None
    guidance: Guidance | None = None
    resolution: Resolution | None = None
    sampler: Sampler | None = None
    num_images: int = Field(default=1, ge=1, le=8, description="images i use seeds seed, seed+1, ...")
    wait: bool = Field(default=True, description="answer with the images; false: answer at once with an id to poll")
    timeout_s: float = Field(default=60, gt=0, le=300, description="how long to wait before answering 202")


class GenerationOut(ResponseModel):
    id: str
    endpoint_id: str
    status: str = Field(description="pending, running, succeeded or failed")
    params: dict[str, Any]
    timings: dict[str, Any] = Field(description="seconds: queue, load, denoise, decode")
    image_urls: list[str]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
