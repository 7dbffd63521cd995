"""The tenant's whole flow over real HTTP: upload → submit → list → cancel; and waiting for a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.helpers.deadlines import scaled, wait_until
from tests.helpers.images import captioned_zip

ENDED = ("succeeded", "failed", "cancelled")


def wait_for_job(http: httpx.Client, job_id: str, done: Callable[[dict[str, Any]], bool], what: str,
                 timeout_s: float = 240, where: str = "") -> dict[str, Any]:
    """The job as the API shows it once `done(job)`; fails at once if it ended otherwise, or after
    the scaled deadline, saying `what` it waited for (and `where` the logs are)."""
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        seen.update(http.get(f"/v1/jobs/{job_id}").json())
        if done(seen):
            return dict(seen)
        assert seen["status"] not in ENDED, f"job {job_id} ended before {what}: {seen}"
        return None

    return wait_until(reached, what=f"job {job_id} {what}", timeout_s=timeout_s, every_s=0.3,
                      describe=lambda: f"{seen} {where}".strip())


def wait_for_status(http: httpx.Client, job_id: str, status: str, timeout_s: float = 240,
                    where: str = "") -> dict[str, Any]:
    return wait_for_job(http, job_id, lambda job: job["status"] == status, f"to be {status}", timeout_s, where)


def upload_submit_list_cancel(url: str, api_key: str) -> dict[str, str]:
    """Runs the flow and checks each answer; returns the ids it created."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=scaled(30)) as http:
        dataset = http.post("/v1/datasets", json={"name": "shapes"})
        assert dataset.status_code == 201, dataset.text
        dataset_id = dataset.json()["id"]
        upload = http.post(f"/v1/datasets/{dataset_id}/files", files=[("files", ("set.zip", captioned_zip(4)))])
        assert upload.status_code == 201 and upload.json()["accepted"] == 4, upload.text
        refused = http.post(f"/v1/datasets/{dataset_id}/files", files=[("files", ("x.png", b"nope"))])
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"

        files = http.get(f"/v1/datasets/{dataset_id}/files").json()["items"]
        image = httpx.get(files[0]["url"], timeout=scaled(30))
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        assert len(image.content) == files[0]["size_bytes"]

        body = {"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny",
                "hyperparameters": {"steps": 20, "validation_prompts": ["a red square"]}}
        job = http.post("/v1/jobs", json=body, headers={"Idempotency-Key": "e2e-1"})
        assert job.status_code == 201 and job.json()["status"] == "admitted", job.text
        replay = http.post("/v1/jobs", json=body, headers={"Idempotency-Key": "e2e-1"})
        assert replay.status_code == 200 and replay.json()["id"] == job.json()["id"]
        job_id = job.json()["id"]

        listed = http.get("/v1/jobs").json()["items"]
        assert [j["id"] for j in listed] == [job_id]
        cancelled = http.post(f"/v1/jobs/{job_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        # Cancelled at once if no worker took it yet, else once its worker has stopped the trainer.
        wait_for_status(http, job_id, "cancelled", timeout_s=60)
        events = http.get(f"/v1/jobs/{job_id}/events", params={"type": "status"}).json()["items"]
        statuses = [e["payload"]["to"] for e in events]
        assert statuses[:2] == ["queued", "admitted"] and statuses[-1] == "cancelled", statuses
        return {"dataset": dataset_id, "job": job_id}


def train_lora_to_success(url: str, api_key: str, dataset_id: str, timeout_s: float = 300) -> dict[str, object]:
    """A short LoRA job on sana-tiny, watched until it succeeds; checks its checkpoints' images."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=scaled(30)) as http:
        body = {"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny", "hyperparameters": {
            "steps": 6, "checkpoint_interval": 3, "batch_size": 2, "resolution": 64,
            "validation_prompts": ["a red square"]}}
        job = wait_for_status(http, http.post("/v1/jobs", json=body).json()["id"], "succeeded", timeout_s)
        assert job["step"] == 6 and job["error"] is None, job
        events = http.get(f"/v1/jobs/{job['id']}/events", params={"type": "status"}).json()["items"]
        assert [e["payload"]["to"] for e in events] == ["queued", "admitted", "running", "succeeded"], events
        checkpoints = http.get(f"/v1/jobs/{job['id']}/checkpoints").json()
        assert [c["step"] for c in checkpoints] == [3, 6]
        sample = httpx.get(checkpoints[-1]["sample_urls"][0], timeout=scaled(30))
        assert sample.status_code == 200 and sample.content.startswith(b"\x89PNG")
        steps = http.get(f"/v1/jobs/{job['id']}/events", params={"type": "step"}).json()["items"]
        assert [e["payload"]["step"] for e in steps] == list(range(1, 7))
        return dict(job)
