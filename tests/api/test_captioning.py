"""Auto-captioning a dataset through the API: a captioning job on the pool's GPUs, the captions it
writes shown per image, a training job's worker handed them; and what is refused, with nothing made."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sanacloud.platform.datasets import auto_captions
from sanacloud.platform.db.models import Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from tests.api.test_instance_prompt import lora, uncaptioned_dataset
from tests.helpers.api import get_job, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.lifecycle import end, start


def caption(client: TestClient, tenant: TenantCtx, dataset_id: str, **body: object) -> object:
    return client.post(f"/v1/datasets/{dataset_id}/captions", json=body, headers=tenant.headers)


def write_captions(job_id: str, dataset_id: str, tenant_id: str, texts: dict[str, tuple[str, float]]) -> None:
    """What the worker stores from the captioning child's events."""
    results = [{"file": name, "captions": [{"source": "sana-tiny-captioner", "text": text, "score": score}]}
               for name, (text, score) in texts.items()]
    with session_scope() as session:
        auto_captions.record(session, job_id=job_id, dataset_id=dataset_id, tenant_id=tenant_id,
                             scorer="sana-tiny-scorer", results=results)


def test_a_captioning_job_writes_scored_captions_that_the_dataset_shows_and_training_receives(
        client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    answer = caption(client, tenant, dataset_id)
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert (job["type"], job["gpus"], job["status"]) == ("captions", 1, "admitted")
    assert [c["source"] for c in job["hyperparameters"]["captioners"]] == ["sana-tiny-captioner"]
    assert job["hyperparameters"]["scorer"]["source"] == "sana-tiny-scorer", "the platform's default scorer"

    start(job["id"])
    write_captions(job["id"], dataset_id, tenant.id, {"dog-0.png": ("a red circle on a blue background", 100.0),
                                                      "dog-1.png": ("a green ring on a black background", 66.7)})
    end(job["id"])
    files = {f["name"]: f for f in client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers)
             .json()["items"]}
    assert files["dog-0.png"]["caption"] == "", "the user's own caption is left as it was"
    assert files["dog-0.png"]["captions"] == [{"source": "sana-tiny-captioner",
                                               "text": "a red circle on a blue background", "score": 100.0,
                                               "scorer": "sana-tiny-scorer", "job_id": job["id"]}]
    assert files["dog-2.png"]["captions"] == []
    stats = client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["stats"]
    assert stats["auto_captioned"] == 2 and stats["captions_by_source"] == {"sana-tiny-captioner": 2}

    training = submit(client, tenant, lora(dataset_id, caption_choice="weighted", caption_temperature=0.5))
    assert training.status_code == 201, training.text
    hp = get_job(client, tenant, training.json()["id"])["hyperparameters"]
    assert (hp["caption_choice"], hp["caption_temperature"]) == ("weighted", 0.5)
    assert set(hp["validation_prompts"]) == {"a red circle on a blue background",
                                             "a green ring on a black background"}, "samples show the new captions"
    with session_scope() as session:
        claimed = lifecycle.claim(session, job_id=training.json()["id"], worker="w:1",
                                  attempt=session.get_one(Job, training.json()["id"]).attempt)
    assert claimed is not None
    scored = {image.name: image.scored for image in claimed.images}
    assert scored["dog-1.png"] == (("sana-tiny-captioner", "a green ring on a black background", 66.7),)
    assert scored["dog-2.png"] == ()


def test_a_second_captioning_job_replaces_that_captioners_captions(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    for text in ("a red circle on a blue background", "a red ring on a blue background"):
        job = caption(client, tenant, dataset_id).json()
        start(job["id"])
        write_captions(job["id"], dataset_id, tenant.id, {"dog-0.png": (text, 50.0)})
        end(job["id"])
    files = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
    assert [c["text"] for f in files for c in f["captions"]] == ["a red ring on a blue background"]


def test_an_idempotency_key_replays_the_job_first_created(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    headers = {**tenant.headers, "Idempotency-Key": "caption-once"}
    first = client.post(f"/v1/datasets/{dataset_id}/captions", json={}, headers=headers)
    again = client.post(f"/v1/datasets/{dataset_id}/captions", json={}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_bad_requests_are_refused_with_the_reason_and_nothing_is_queued(
        client: TestClient, tenant: TenantCtx, make_tenant) -> None:  # type: ignore[no-untyped-def]
    dataset_id = uncaptioned_dataset(client, tenant)
    unknown = caption(client, tenant, dataset_id, captioners=["blip-huge"])
    assert unknown.status_code == 422 and "unknown captioner 'blip-huge'" in unknown.text, unknown.text
    assert "sana-tiny-captioner" in unknown.text, "it names those there are"
    wrong_kind = caption(client, tenant, dataset_id, scorer="sana-tiny-captioner")
    assert wrong_kind.status_code == 422 and "unknown scorer" in wrong_kind.text, wrong_kind.text
    twice = caption(client, tenant, dataset_id, captioners=["sana-tiny-captioner", "sana-tiny-captioner"])
    assert twice.status_code == 422, twice.text
    wrong_type = caption(client, tenant, dataset_id, captioners="sana-tiny-captioner")
    assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["loc"] == "captioners", wrong_type.text
    empty = client.post("/v1/datasets", json={"name": "empty"}, headers=tenant.headers).json()["id"]
    nothing = caption(client, tenant, empty)
    assert nothing.status_code == 422 and "has no images" in nothing.text, nothing.text
    other = make_tenant("globex")
    theirs = caption(client, other, dataset_id)
    assert theirs.status_code == 404, "another tenant's dataset does not exist for them"
    for who in (tenant, other):
        assert client.get("/v1/jobs", headers=who.headers).json()["items"] == [], "nothing was queued"


def test_operators_register_captioners_and_scorers_that_tenants_can_list(
        client: TestClient, tenant: TenantCtx, admin_headers: dict[str, str]) -> None:
    body = {"name": "blip-base", "kind": "captioner", "uri": "s3://models/blip-base"}
    assert client.post("/v1/admin/captioners", json=body, headers=tenant.headers).status_code == 403
    made = client.post("/v1/admin/captioners", json=body, headers=admin_headers)
    assert made.status_code == 201, made.text
    assert (made.json()["kind"], made.json()["family"]) == ("captioner", "transformers")
    assert client.post("/v1/admin/captioners", json=body, headers=admin_headers).status_code == 409
    builtin = client.post("/v1/admin/captioners", json={**body, "name": "x", "family": "sana-tiny-judge"},
                          headers=admin_headers)
    assert builtin.status_code == 422, "the built-in family is not for imports"
    listed = client.get("/v1/captioners", headers=tenant.headers).json()
    assert [(c["name"], c["kind"]) for c in listed] == [
        ("blip-base", "captioner"), ("sana-tiny-captioner", "captioner"), ("sana-tiny-scorer", "scorer")]
    dataset_id = uncaptioned_dataset(client, tenant)
    job = caption(client, tenant, dataset_id, captioners=["blip-base", "sana-tiny-captioner"], scorer=None)
    assert job.status_code == 201, job.text
    assert job.json()["hyperparameters"]["scorer"] is None, "null: the captions are not scored"
    assert job.json()["base_model"] == "blip-base"


def test_prior_preservation_takes_only_your_own_class_dataset(
        client: TestClient, tenant: TenantCtx, make_tenant) -> None:  # type: ignore[no-untyped-def]
    mine = uncaptioned_dataset(client, tenant)
    other = make_tenant("globex")
    theirs = uncaptioned_dataset(client, other)
    stolen = submit(client, tenant, lora(mine, prior={"class_prompt": "a photo of a dog", "class_dataset_id": theirs}))
    assert stolen.status_code == 404, stolen.text
    classes = uncaptioned_dataset(client, tenant)
    job = submit(client, tenant, lora(mine, prior={"class_prompt": "a photo of a dog", "class_dataset_id": classes,
                                                   "num_class_images": 5}))
    assert job.status_code == 201, job.text
    assert get_job(client, tenant, job.json()["id"])["hyperparameters"]["prior"] == {
        "class_prompt": "a photo of a dog", "num_class_images": 5, "loss_weight": 1.0}, "the trainer's part"
    with session_scope() as session:
        claimed = lifecycle.claim(session, job_id=job.json()["id"], worker="w:1",
                                  attempt=session.get_one(Job, job.json()["id"]).attempt)
    assert claimed is not None and [image.name for image in claimed.class_images] == [
        "dog-0.png", "dog-1.png", "dog-2.png"], "the worker downloads the class images"


def test_a_dataset_in_use_as_class_images_is_not_deleted(client: TestClient, tenant: TenantCtx) -> None:
    mine, classes = uncaptioned_dataset(client, tenant), uncaptioned_dataset(client, tenant)
    job = submit(client, tenant, lora(mine, prior={"class_prompt": "a photo of a dog", "class_dataset_id": classes}))
    refused = client.delete(f"/v1/datasets/{classes}", headers=tenant.headers)
    assert refused.status_code == 409 and job.json()["id"] in refused.text, refused.text


def test_one_captioning_job_per_dataset_at_a_time_and_endpoints_serve_no_captioner(
        client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    first = caption(client, tenant, dataset_id)
    again = caption(client, tenant, dataset_id)
    assert again.status_code == 409 and first.json()["id"] in again.text, again.text
    captioner = next(c for c in client.get("/v1/captioners", headers=tenant.headers).json()
                     if c["name"] == "sana-tiny-captioner")
    endpoint = client.post("/v1/endpoints", json={"name": "x", "model": captioner["id"]}, headers=tenant.headers)
    assert endpoint.status_code == 404, endpoint.text


def test_an_unscored_run_keeps_the_scores_captions_already_have(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = uncaptioned_dataset(client, tenant)
    for score in (80.0, None):
        job = caption(client, tenant, dataset_id).json()
        start(job["id"])
        with session_scope() as session:
            auto_captions.record(session, job_id=job["id"], dataset_id=dataset_id, tenant_id=tenant.id,
                                 scorer=None if score is None else "sana-tiny-scorer", results=[
                                     {"file": "dog-0.png", "captions": [{"source": "sana-tiny-captioner",
                                                                         "text": "a red circle", "score": score}]}])
        end(job["id"])
    (written,) = [c for f in client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
                  for c in f["captions"]]
    assert (written["score"], written["scorer"]) == (80.0, "sana-tiny-scorer")
