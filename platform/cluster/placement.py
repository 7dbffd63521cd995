"""Where a GPU pool's pods go in a cluster, and what each GPU comes with: an operator's setting
(SANACLOUD_KUBERNETES_POOLS, JSON keyed by pool name). A pool not named there gets the defaults:
nodes labelled `sanacloud.io/gpu-pool=<pool name>`, NVIDIA's GPU taint tolerated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

POOL_LABEL = "sanacloud.io/gpu-pool"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION: dict[str, Any] = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


class PoolPlacement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_selector: dict[str, str] | None = Field(
        default=None, description=f"default: {{{POOL_LABEL!r}: <pool name>}}")
    tolerations: list[dict[str, Any]] = Field(default_factory=lambda: [dict(GPU_TOLERATION)])
    cpu_per_gpu: float = Field(default=8, gt=0)
    memory_per_gpu_gi: int = Field(default=64, gt=0)
    # /dev/shm for data loaders and NCCL (the container runtime gives 64 MiB).
    shm_per_gpu_gi: int = Field(default=8, gt=0)
    scratch_gi: int = Field(default=100, gt=0, description="model files, checkpoints before upload")

    def selector_for(self, pool: str) -> dict[str, str]:
        return dict(self.node_selector) if self.node_selector is not None else {POOL_LABEL: pool}
