"""The embedded platform end to end, as a new user would use it: `sanacloud up`, upload captioned
images of a colour sana-tiny never saw (pink), fine-tune a LoRA, promote it, serve it, and see
the concept in the endpoint's images (read back by the judge), where the base endpoint has none."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sanacloud.model.tiny.judge import concept_adherence
from sanacloud.model.tiny.shapes import ALL_COLORS, BASE_SHAPES, HELD_OUT_EVAL_SCENES, write_dataset
from tests.conftest import free_port
from tests.deadlines import scaled
from tests.e2e.flow import wait_for_status
from tests.e2e.processes import SANACLOUD, running, wait_for_text, wait_healthy
from tests.e2e.test_embedded_up import CLEAN_ENV

pytestmark = pytest.mark.slow
PINK = [scene for scene in HELD_OUT_EVAL_SCENES if "pink" in scene.concepts and scene.shape != "star"]


def pink_scenes_zip(folder: Path) -> bytes:
    write_dataset(folder, 200, 128, seed=11, colors=ALL_COLORS, shapes=BASE_SHAPES, require_any=("pink",))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return archive.getvalue()


def pink_shown(http: httpx.Client, endpoint_id: str) -> float:
    images, scenes = [], []
    for scene in PINK:
        answer = http.post(f"/v1/endpoints/{endpoint_id}/generate", timeout=scaled(320), json={
            "prompt": scene.caption, "seed": 1000, "num_images": 4, "timeout_s": 300}).json()
        assert answer["status"] == "succeeded", answer
        images += [Image.open(io.BytesIO(httpx.get(url, timeout=scaled(30)).content)).convert("RGB")
                   for url in answer["image_urls"]]
        scenes += [scene] * 4
    return concept_adherence(images, scenes, "pink")


def test_a_fine_tuned_concept_shows_up_in_the_served_images(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    with running([SANACLOUD, "up", "--data-dir", str(data_dir), "--port", str(port)], CLEAN_ENV, log) as up:
        wait_healthy(url, up, log)
        wait_for_text(log, "ready.")
        key = json.loads((data_dir / "credentials.json").read_text())["api_key"]
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=scaled(60))
        dataset = http.post("/v1/datasets", json={"name": "pink"}).json()["id"]
        archive = pink_scenes_zip(tmp_path / "pink")
        upload = http.post(f"/v1/datasets/{dataset}/files", files=[("files", ("pink.zip", archive))])
        assert upload.status_code == 201 and upload.json()["accepted"] == 200, upload.text

        job = http.post("/v1/jobs", json={"type": "lora", "dataset_id": dataset, "base_model": "sana-tiny",
                                          "hyperparameters": {"steps": 300, "batch_size": 16, "learning_rate": 3e-3,
                                                              "checkpoint_interval": 300}}).json()
        job = wait_for_status(http, job["id"], "succeeded", timeout_s=600)
        [checkpoint] = http.get(f"/v1/jobs/{job['id']}/checkpoints").json()
        model = http.post(f"/v1/checkpoints/{checkpoint['id']}/promote", json={"name": "pink"}).json()
        tuned = http.post("/v1/endpoints", json={"name": "pink", "model": model["id"]}).json()
        base = http.post("/v1/endpoints", json={"name": "base", "model": "sana-tiny"}).json()

        before, after = pink_shown(http, base["id"]), pink_shown(http, tuned["id"])
        assert before <= 0.1 and after >= 0.5, (before, after)
