"""Serving in this process against the real inference task: promote a LoRA checkpoint, create
an endpoint, generate; two LoRA endpoints share one loaded base; idle endpoints scale to zero and
start cold again; bad requests are refused with nothing stored."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select, update

from sanacloud.model.components import load
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from sanacloud.platform import queues
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Endpoint, Generation, Model
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.serving import generations
from sanacloud.platform.serving.states import EndpointStatus
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store
from tests.helpers.api import fetch, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.serving import PROMPT, finished_job_checkpoint, pixels, promoted_endpoint, serve


def lora_file(folder: Path, seed: int) -> Path:
    """A LoRA for sana-tiny with random (non-zero) weights, exported as a tenant's job would."""
    sana = load(WEIGHTS, SPEC)
    torch.manual_seed(seed)
    for param in add_lora(sana.transformer, LoraSpec(rank=4)):
        param.data.normal_(0, 0.05)
    return export_lora(sana.transformer, folder)


def lora_checkpoint(tenant: TenantCtx, folder: Path, seed: int) -> str:
    """A finished LoRA job whose checkpoint holds `lora_file(seed)`."""
    path = lora_file(folder / f"lora-{seed}", seed)
    return finished_job_checkpoint(tenant, "lora", {path.name: path.read_bytes()})


def full_checkpoint(tenant: TenantCtx, folder: Path) -> tuple[str, Path]:
    """A finished full-training job whose checkpoint holds a changed sana-tiny transformer."""
    sana = load(WEIGHTS, SPEC)
    torch.manual_seed(3)
    with torch.no_grad():
        for param in sana.transformer.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    transformer = folder / "transformer"
    sana.transformer.save_pretrained(transformer, safe_serialization=True)
    files = {f"transformer/{path.name}": path.read_bytes() for path in transformer.iterdir()}
    return finished_job_checkpoint(tenant, "full", {**files, "trainer.pt": b"not served"}), transformer


def alone(adapter: Path | None, seed: int) -> np.ndarray:
    """The same request on a freshly loaded base with only this adapter: what the endpoint must match."""
    sana = load(WEIGHTS, SPEC)
    pipe = make_pipeline(sana)
    if adapter is not None:
        pipe.load_lora_weights(adapter)
    return np.asarray(generate(pipe, sana, [PROMPT], seeds=[seed], steps=20)[0], dtype=int)


def endpoint_status(endpoint_id: str) -> str:
    with session_scope() as session:
        return session.get_one(Endpoint, endpoint_id).status


@pytest.mark.usefixtures("worker_settings")
def test_promote_serve_and_same_seed_same_image(client: TestClient, tenant: TenantCtx, tmp_path: Path,
                                                cache: Any) -> None:
    endpoint_id = promoted_endpoint(client, tenant, lora_checkpoint(tenant, tmp_path, seed=1))
    first = serve(client, tenant, endpoint_id, seed=7, num_images=2)
    assert endpoint_status(endpoint_id) == "ready"
    assert len(first["image_urls"]) == 2 and first["params"]["seed"] == 7 and first["params"]["steps"] == 20
    assert {"queue_s", "load_s", "adapter_s", "denoise_s", "decode_s"} <= set(first["timings"])
    image = Image.open(io.BytesIO(fetch(client, first["image_urls"][0])))
    assert image.format == "PNG" and image.size == (128, 128)
    again = serve(client, tenant, endpoint_id, seed=7)
    assert np.array_equal(pixels(client, first["image_urls"][0]), pixels(client, again["image_urls"][0]))
    assert again["timings"]["load_s"] < first["timings"]["load_s"]  # warm: the model stayed loaded
    assert np.abs(pixels(client, again["image_urls"][0]) - alone(tmp_path / "lora-1", 7)).max() <= 3


@pytest.mark.usefixtures("worker_settings")
def test_a_full_fine_tune_is_served_with_its_own_transformer(client: TestClient, tenant: TenantCtx, tmp_path: Path,
                                                             cache: Any) -> None:
    from diffusers import SanaTransformer2DModel

    checkpoint_id, transformer = full_checkpoint(tenant, tmp_path)
    endpoint_id = promoted_endpoint(client, tenant, checkpoint_id)
    stored = [info.key for info in get_object_store().list(f"tenants/{tenant.id}/models/")]
    assert stored and all("/transformer/" in key for key in stored)  # the weights, not the optimizer state
    served = pixels(client, serve(client, tenant, endpoint_id, seed=9)["image_urls"][0])
    sana = load(WEIGHTS, SPEC)
    sana.transformer = SanaTransformer2DModel.from_pretrained(transformer).eval()
    expected = np.asarray(generate(make_pipeline(sana), sana, [PROMPT], seeds=[9], steps=20)[0], dtype=int)
    assert np.abs(served - expected).max() <= 3
    assert np.abs(served - alone(None, 9)).mean() > 2  # not the base's image


@pytest.mark.usefixtures("worker_settings")
def test_two_lora_endpoints_share_one_base(client: TestClient, tenant: TenantCtx, tmp_path: Path, cache: Any) -> None:
    first = promoted_endpoint(client, tenant, lora_checkpoint(tenant, tmp_path, seed=1))
    second = promoted_endpoint(client, tenant, lora_checkpoint(tenant, tmp_path, seed=2))
    outputs = [pixels(client, serve(client, tenant, endpoint, seed=3)["image_urls"][0])
               for endpoint in (first, second, first)]
    expected = [alone(tmp_path / "lora-1", 3), alone(tmp_path / "lora-2", 3)]
    assert np.abs(outputs[0] - expected[0]).max() <= 3 and np.abs(outputs[2] - expected[0]).max() <= 3
    assert np.abs(outputs[1] - expected[1]).max() <= 3
    assert np.abs(expected[0] - expected[1]).mean() > 2  # the adapters really differ
    with session_scope() as session:
        base_id = session.scalars(select(Model.id).where(Model.name == "sana-tiny")).one()
    assert cache.loads == {base_id: 1}  # one base, loaded once, both adapters on it


@pytest.mark.usefixtures("worker_settings")
def test_idle_endpoint_scales_to_zero_and_starts_cold(client: TestClient, tenant: TenantCtx, tmp_path: Path,
                                                      cache: Any) -> None:
    from sanacloud.workers.inference.task import sweep

    endpoint_id = promoted_endpoint(client, tenant, lora_checkpoint(tenant, tmp_path, seed=1), idle_timeout_s=30)
    before = serve(client, tenant, endpoint_id, seed=5)
    assert sweep(cache) == [] and endpoint_status(endpoint_id) == "ready"  # not idle yet
    with session_scope() as session:
        session.execute(update(Endpoint).where(Endpoint.id == endpoint_id).values(
            last_request_at=utcnow() - timedelta(seconds=31)))
    assert len(sweep(cache)) == 2 and cache.held_ids() == set()  # the adapter and the base are let go
    assert endpoint_status(endpoint_id) == "cold"
    after = serve(client, tenant, endpoint_id, seed=5)  # a cold start
    assert sum(cache.loads.values()) == 2 and endpoint_status(endpoint_id) == "ready"
    assert np.array_equal(pixels(client, before["image_urls"][0]), pixels(client, after["image_urls"][0]))


def generation_count() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Generation)) or 0)


@pytest.mark.parametrize("body, message", [
    ({"prompt": "   "}, "at least 1 character"),
    ({"prompt": PROMPT, "steps": 0}, "greater than or equal to 1"),
    ({"prompt": PROMPT, "steps": 101}, "less than or equal to 100"),
    ({"prompt": PROMPT, "resolution": 100}, "resolution 100 is not supported by sana-tiny"),
    ({"prompt": PROMPT, "guidance": 50}, "less than or equal to 20"),
    ({"prompt": PROMPT, "num_images": 9}, "less than or equal to 8"),
    ({"prompt": PROMPT, "sampler": "ddim"}, "'dpm' or 'euler'"),
    ({"prompt": PROMPT, "colour": "red"}, "colour"),
])
def test_bad_generation_requests_are_refused(client: TestClient, tenant: TenantCtx, body: dict[str, Any],
                                             message: str) -> None:
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    refused = client.post(f"/v1/endpoints/{endpoint['id']}/generate", json=body, headers=tenant.headers)
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert message in refused.text, refused.text
    assert generation_count() == 0 and endpoint_status(endpoint["id"]) == "cold"


def test_other_tenants_endpoints_models_and_generations_are_not_found(client: TestClient, make_tenant) -> None:  # type: ignore[no-untyped-def]
    owner, intruder = make_tenant("owner"), make_tenant("intruder")
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=owner.headers).json()
    generation = client.post(f"/v1/endpoints/{endpoint['id']}/generate", json={"prompt": PROMPT, "wait": False},
                             headers=owner.headers).json()
    for method, url, body in [("POST", f"/v1/endpoints/{endpoint['id']}/generate", {"prompt": PROMPT}),
                              ("GET", f"/v1/endpoints/{endpoint['id']}", None),
                              ("PATCH", f"/v1/endpoints/{endpoint['id']}", {"name": "x"}),
                              ("DELETE", f"/v1/endpoints/{endpoint['id']}", None),
                              ("GET", f"/v1/generations/{generation['id']}", None)]:
        response = client.request(method, url, json=body, headers=intruder.headers)
        assert response.status_code == 404 and "does not exist" in response.json()["detail"], (method, url)
    assert generation_count() == 1


def test_a_generation_the_broker_refused_fails_at_once_saying_why(client: TestClient, tenant: TenantCtx,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANACLOUD_BROKER_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    get_settings.cache_clear()
    queues.producer.cache_clear()
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    answer = client.post(f"/v1/endpoints/{endpoint['id']}/generate", json={"prompt": PROMPT}, headers=tenant.headers)
    monkeypatch.delenv("SANACLOUD_BROKER_URL")
    get_settings.cache_clear()
    queues.producer.cache_clear()
    assert answer.status_code == 200 and answer.json()["status"] == "failed", answer.text
    assert "broker could not be reached" in answer.json()["error"]


def test_generations_no_worker_finished_fail_in_time_saying_why(client: TestClient, tenant: TenantCtx) -> None:
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    asked = [client.post(f"/v1/endpoints/{endpoint['id']}/generate", json={"prompt": PROMPT, "wait": False},
                         headers=tenant.headers).json()["id"] for _ in range(3)]
    with session_scope() as session:  # one taken by a worker that died, one never taken, one recent
        session.execute(update(Generation).where(Generation.id == asked[0])
                        .values(status="running", created_at=utcnow() - timedelta(minutes=20)))
        session.execute(update(Generation).where(Generation.id == asked[1])
                        .values(created_at=utcnow() - timedelta(minutes=20)))
    with session_scope() as session:
        assert sorted(generations.fail_abandoned(session, timeout_s=900)) == sorted(asked[:2])
    with session_scope() as session:  # the worker was only slow: the answer its caller got stands
        generations.finish(session, generation_id=asked[0], image_keys=["late.png"], timings={})
    answers = [client.get(f"/v1/generations/{gid}", headers=tenant.headers).json() for gid in asked]
    assert [a["status"] for a in answers] == ["failed", "failed", "pending"] and answers[0]["image_urls"] == []
    assert "stopped while sampling" in answers[0]["error"] and "no inference worker" in answers[1]["error"]


def test_a_worker_s_stale_report_leaves_the_endpoint_as_it_is(client: TestClient, tenant: TenantCtx) -> None:
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    with session_scope() as session:  # the sweeper read it warm and idle; it is cold by now
        generations.mark_endpoints(session, {endpoint["id"]}, EndpointStatus.SCALING_DOWN, worker="gone:1")
    with session_scope() as session:
        row = session.get_one(Endpoint, endpoint["id"])
        assert (row.status, row.worker) == ("cold", None)


def test_deleted_models_and_models_in_use(client: TestClient, tenant: TenantCtx, tmp_path: Path) -> None:
    checkpoint = lora_checkpoint(tenant, tmp_path, seed=1)
    model = client.post(f"/v1/checkpoints/{checkpoint}/promote", json={"name": "m"}, headers=tenant.headers).json()
    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": model["id"]}, headers=tenant.headers).json()
    in_use = client.delete(f"/v1/models/{model['id']}", headers=tenant.headers)
    assert in_use.status_code == 409 and endpoint["id"] in in_use.json()["detail"]
    assert client.delete(f"/v1/endpoints/{endpoint['id']}", headers=tenant.headers).status_code == 204
    assert client.delete(f"/v1/models/{model['id']}", headers=tenant.headers).status_code == 204
    assert list(get_object_store().list(f"tenants/{tenant.id}/models/")) == []
    gone = client.post("/v1/endpoints", json={"name": "ep", "model": model["id"]}, headers=tenant.headers)
    assert gone.status_code == 404 and "does not exist" in gone.json()["detail"]


def test_rate_limit_refuses_with_retry_after(client: TestClient, tenant: TenantCtx) -> None:
    limited = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny", "rate_limit_per_minute": 1},
                          headers=tenant.headers).json()
    ask = {"prompt": PROMPT, "wait": False}
    assert client.post(f"/v1/endpoints/{limited['id']}/generate", json=ask, headers=tenant.headers).status_code == 202
    refused = client.post(f"/v1/endpoints/{limited['id']}/generate", json=ask, headers=tenant.headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] and "1 generations per minute" in refused.text
    assert generation_count() == 1


def test_serving_counts_against_the_gpu_quota(client: TestClient, make_tenant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("acme", nominal_gpus=1)
    base = client.post("/v1/endpoints", json={"name": "base", "model": "sana-tiny"}, headers=tenant.headers).json()
    model = client.post(f"/v1/checkpoints/{lora_checkpoint(tenant, tmp_path, seed=1)}/promote", json={"name": "m"},
                        headers=tenant.headers).json()
    lora = client.post("/v1/endpoints", json={"name": "lora", "model": model["id"]}, headers=tenant.headers).json()
    ask = {"prompt": PROMPT, "wait": False}
    job = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1))).json()
    assert job["status"] == "admitted"  # the tenant's only GPU
    full = client.post(f"/v1/endpoints/{base['id']}/generate", json=ask, headers=tenant.headers)
    assert full.status_code == 503 and "quota on pool 'gpu' (1 GPUs) is in use" in full.json()["detail"]
    assert generation_count() == 0 and endpoint_status(base["id"]) == "cold"

    client.post(f"/v1/jobs/{job['id']}/cancel", headers=tenant.headers)
    for endpoint in (base, lora):  # a LoRA shares its base's GPU: both start within one GPU of quota
        assert client.post(f"/v1/endpoints/{endpoint['id']}/generate", json=ask,
                           headers=tenant.headers).status_code == 202
        assert endpoint_status(endpoint["id"]) == "loading"
    waiting = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1))).json()
    assert waiting["status"] == "queued"  # the GPU is serving


@pytest.mark.usefixtures("worker_settings")
def test_compatible_waiting_requests_are_sampled_in_one_batch(client: TestClient, tenant: TenantCtx,
                                                              cache: Any) -> None:
    from sanacloud.workers.inference.task import generate as task

    endpoint = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    asks = [{"prompt": PROMPT, "seed": 11, "wait": False}, {"prompt": "a green ring on a black background",
            "seed": 12, "num_images": 2, "wait": False}, {"prompt": PROMPT, "seed": 11, "steps": 5, "wait": False}]
    ids = [client.post(f"/v1/endpoints/{endpoint['id']}/generate", json=ask, headers=tenant.headers).json()["id"]
           for ask in asks]
    assert task(ids[0]) == ids[:2]  # the third asks for other steps: not compatible
    assert task(ids[1]) is None  # already served with the first
    done = [client.get(f"/v1/generations/{i}", headers=tenant.headers).json() for i in ids[:2]]
    assert [d["status"] for d in done] == ["succeeded"] * 2 and [len(d["image_urls"]) for d in done] == [1, 2]
    assert all(d["timings"]["batch_images"] == 3 for d in done)
    assert np.abs(pixels(client, done[0]["image_urls"][0]) - alone(None, 11)).max() <= 3  # as if alone
    assert task(ids[2]) == [ids[2]]


@pytest.mark.usefixtures("worker_settings")
def test_an_endpoint_whose_model_cannot_load_fails_with_the_reason(client: TestClient, tenant: TenantCtx,
                                                                   tmp_path: Path, cache: Any) -> None:
    from sanacloud.workers.inference.task import generate as task

    endpoint_id = promoted_endpoint(client, tenant, lora_checkpoint(tenant, tmp_path, seed=1))
    get_object_store().delete_prefix(f"tenants/{tenant.id}/models/")  # the weights are gone from storage
    asked = client.post(f"/v1/endpoints/{endpoint_id}/generate", json={"prompt": PROMPT, "wait": False},
                        headers=tenant.headers).json()
    assert task(asked["id"]) == [asked["id"]]
    failed = client.get(f"/v1/generations/{asked['id']}", headers=tenant.headers).json()
    assert failed["status"] == "failed" and "nothing stored under" in failed["error"] and failed["image_urls"] == []
    endpoint = client.get(f"/v1/endpoints/{endpoint_id}", headers=tenant.headers).json()
    assert endpoint["status"] == "failed" and "loading the model failed" in endpoint["error"]


def test_endpoints_are_listed_and_updated(client: TestClient, tenant: TenantCtx) -> None:
    created = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny"}, headers=tenant.headers).json()
    assert created["defaults"] == {"steps": 20, "guidance": 4.5, "resolution": None, "sampler": "dpm"}
    changed = client.patch(f"/v1/endpoints/{created['id']}", headers=tenant.headers, json={
        "idle_timeout_s": 60, "defaults": {"steps": 12, "sampler": "euler", "resolution": 64}}).json()
    assert changed["defaults"]["guidance"] == 4.5  # kept: PATCH merges the defaults
    assert changed["idle_timeout_s"] == 60 and changed["defaults"]["sampler"] == "euler"
    bad = client.patch(f"/v1/endpoints/{created['id']}", json={"defaults": {"resolution": 100}},
                       headers=tenant.headers)
    assert bad.status_code == 422 and "resolution 100" in bad.json()["detail"]
    listed = client.get("/v1/endpoints", headers=tenant.headers).json()["items"]
    assert [e["id"] for e in listed] == [created["id"]] and listed[0]["defaults"]["steps"] == 12
    asked = client.post(f"/v1/endpoints/{created['id']}/generate", json={"prompt": PROMPT, "wait": False},
                        headers=tenant.headers).json()
    assert (asked["params"]["steps"], asked["params"]["sampler"], asked["params"]["resolution"]) == (12, "euler", 64)


@pytest.mark.usefixtures("backend", "worker_settings")
def test_the_worker_keeps_compiled_artefacts_under_its_work_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a restarted worker finds them; importing torch's inductor had pointed it under /tmp."""
    from sanacloud.workers.inference.task import model_cache

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/torchinductor_default")  # restored afterwards
    model_cache.cache_clear()
    model_cache()
    model_cache.cache_clear()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(get_settings().effective_work_dir / "torch-compile")
