"""A captioning job run by the worker against the real captioning child: sana-tiny scenes uploaded
without captions come back captioned by the built-in captioner and scored, the user's own caption
too, with progress events; a LoRA job then trains on the best captions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sanacloud.model.tiny.shapes import ALL_COLORS, BASE_SHAPES, write_dataset
from sanacloud.platform.settings import get_settings
from tests.helpers.api import events, get_job, lora_job, submit
from tests.helpers.backends import TenantCtx
from tests.helpers.workers import QUICK, run_task

IMAGES = 12


def upload_scenes(client: TestClient, tenant: TenantCtx, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Generated scenes, uploaded as photos without captions except the first; (dataset id, true captions)."""
    write_dataset(tmp_path, IMAGES, 128, 21, ALL_COLORS, BASE_SHAPES)
    truth = {row["file_name"]: row["text"] for row in map(json.loads, (tmp_path / "metadata.jsonl").read_text()
                                                          .splitlines())}
    dataset_id = client.post("/v1/datasets", json={"name": "scenes"}, headers=tenant.headers).json()["id"]
    first = sorted(truth)[0]
    files = [("files", (name, io.BytesIO((tmp_path / name).read_bytes()))) for name in sorted(truth)]
    files.append(("files", (Path(first).with_suffix(".txt").name, io.BytesIO(b"my own words"))))
    upload = client.post(f"/v1/datasets/{dataset_id}/files", files=files, headers=tenant.headers)
    assert upload.status_code == 201, upload.text
    return dataset_id, truth


@pytest.mark.usefixtures("worker_settings")
def test_uncaptioned_scenes_are_captioned_scored_and_trained_on(
        client: TestClient, tenant: TenantCtx, tmp_path: Path) -> None:
    dataset_id, truth = upload_scenes(client, tenant, tmp_path / "scenes")
    job = client.post(f"/v1/datasets/{dataset_id}/captions", json={}, headers=tenant.headers).json()
    assert run_task(job["id"]) == "succeeded", get_job(client, tenant, job["id"])["error"]
    assert get_job(client, tenant, job["id"])["step"] == IMAGES, "a captioning job's step counts images done"

    log = events(client, tenant, job["id"])
    progress = [e["payload"] for e in log if e["type"] == "progress"]
    assert progress and (progress[-1]["done"], progress[-1]["total"]) == (IMAGES, IMAGES), progress
    assert not [e for e in log if e["type"] == "caption_failed"]
    files = client.get(f"/v1/datasets/{dataset_id}/files?limit=100", headers=tenant.headers).json()["items"]
    written = {f["name"]: {c["source"]: c for c in f["captions"]} for f in files}
    right = sum(written[name]["sana-tiny-captioner"]["text"] == text for name, text in truth.items())
    assert right >= 0.9 * IMAGES, (right, written)
    assert all(c["scorer"] == "sana-tiny-scorer" and 0 <= c["score"] <= 100
               for captions in written.values() for c in captions.values())
    own = written[sorted(truth)[0]]["user"]
    assert own["text"] == "my own words" and own["score"] == 0, "the user's caption is scored too: it names nothing"

    training = submit(client, tenant, lora_job(dataset_id, hyperparameters={**QUICK, "caption_choice": "best"}))
    assert training.status_code == 201, training.text
    assert run_task(training.json()["id"]) == "succeeded", get_job(client, tenant, training.json()["id"])["error"]
    (index,) = (get_settings().effective_work_dir / "cache" / dataset_id).glob("*/texts-*/index.json")
    cached = set(json.loads(index.read_text())["captions"])
    best = {max(c.values(), key=lambda c: c["score"])["text"] for c in written.values()}
    assert cached == best | {""}, "the text embeddings are the best captions' (and the empty one, for CFG)"
