"""A generation run by the real inference task here shows in /metrics: one observation per phase,
a cold load taking longer than the warm one after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sanacloud.model.components import load
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from tests.helpers.backends import TenantCtx
from tests.helpers.metrics import scrape, value
from tests.helpers.serving import finished_job_checkpoint, promoted_endpoint, serve

PHASES = ("queue", "load", "warm_up", "adapter", "denoise", "decode")
SECONDS = "sanacloud_generation_phase_duration_seconds"


@pytest.mark.usefixtures("worker_settings")
def test_each_phase_of_a_generation_is_observed(client: TestClient, tenant: TenantCtx, tmp_path: Path,
                                                cache: Any) -> None:
    sana = load(WEIGHTS, SPEC)
    add_lora(sana.transformer, LoraSpec(rank=4))
    adapter = export_lora(sana.transformer, tmp_path / "lora")
    endpoint_id = promoted_endpoint(client, tenant, finished_job_checkpoint(tenant, "lora", {
        adapter.name: adapter.read_bytes()}))
    before = scrape(client)
    cold = serve(client, tenant, endpoint_id, steps=4)
    cold_metrics = scrape(client)
    warm = serve(client, tenant, endpoint_id, steps=4)
    after = scrape(client)
    for phase in PHASES:
        assert value(after, f"{SECONDS}_count", phase=phase) - value(before, f"{SECONDS}_count", phase=phase) == 2
    assert value(after, f"{SECONDS}_count", phase="batch_images") == 0  # a count, not a time
    loads = [value(cold_metrics, f"{SECONDS}_sum", phase="load") - value(before, f"{SECONDS}_sum", phase="load"),
             value(after, f"{SECONDS}_sum", phase="load") - value(cold_metrics, f"{SECONDS}_sum", phase="load")]
    assert loads == pytest.approx([cold["timings"]["load_s"], warm["timings"]["load_s"]], abs=1e-6)
    assert loads[0] > loads[1]
