"""A job on photos without captions: its instance prompt and trigger word are the captions it trains
on (and its default validation prompt); the promoted model records the trigger, to prompt with."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from tests.helpers.api import get_job, submit
from tests.helpers.backends import TenantCtx, store
from tests.helpers.images import png, zip_of
from tests.helpers.lifecycle import end, record_checkpoints, start


def uncaptioned_dataset(client: TestClient, tenant: TenantCtx) -> str:
    dataset_id = client.post("/v1/datasets", json={"name": "my dog"}, headers=tenant.headers).json()["id"]
    photos = zip_of({f"dog-{i}.png": png(color=(40 * i, 90, 160)) for i in range(3)})
    upload = client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                         files=[("files", ("photos.zip", photos))])
    assert upload.status_code == 201, upload.text
    return str(dataset_id)


def lora(dataset_id: str, **hyperparameters: object) -> dict[str, object]:
    return {"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny",
            "hyperparameters": {"steps": 4, **hyperparameters}}


def test_the_instance_prompt_and_trigger_caption_an_uncaptioned_set_and_the_model_records_the_trigger(
        client: TestClient, tenant: TenantCtx) -> None:
    job = submit(client, tenant, lora(uncaptioned_dataset(client, tenant), instance_prompt="a photo of my dog",
                                      trigger="zqx"))
    assert job.status_code == 201, job.text
    hp = get_job(client, tenant, job.json()["id"])["hyperparameters"]
    assert hp["instance_prompt"] == "a photo of my dog" and hp["trigger"] == "zqx"
    assert hp["validation_prompts"] == ["zqx, a photo of my dog"], "samples show what it is taught"

    start(job.json()["id"])
    (prefix,) = record_checkpoints(job.json()["id"], [0.3])
    store().put_bytes(prefix + LORA_WEIGHTS, b"lora weights")
    end(job.json()["id"])
    checkpoint = client.get(f"/v1/jobs/{job.json()['id']}/checkpoints", headers=tenant.headers).json()[0]
    promoted = client.post(f"/v1/checkpoints/{checkpoint['id']}/promote", json={"name": "my dog"},
                           headers=tenant.headers)
    assert promoted.status_code == 201, promoted.text
    model = client.get(f"/v1/models/{promoted.json()['id']}", headers=tenant.headers).json()
    assert model["trigger"] == "zqx"


def test_a_trigger_with_a_comma_or_an_empty_instance_prompt_is_refused_naming_the_field(
        client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    for field, value in (("trigger", "sks, dog"), ("instance_prompt", "  "), ("trigger", 7)):
        refused = submit(client, tenant, lora(dataset_id, **{field: value}))
        assert refused.status_code == 422, refused.text
        assert [e["loc"] for e in refused.json()["errors"]] == [f"hyperparameters.{field}"], refused.json()
    assert client.get("/v1/jobs", headers=tenant.headers).json()["items"] == [], "nothing was submitted"
