"""Submit-to-first-step latency in embedded mode (`sanacloud up`), and where the time goes.

    python bench/embedded_latency.py [--runs 3]

Starts `sanacloud up` on a temporary data dir, uploads 8 captioned sana-tiny scenes and submits
small LoRA jobs one after another. For each it reads the job's events and reports seconds from
the POST to: admitted, running (a worker claimed it), the trainer's `start` event and its first
`step`. The baseline, in the same run, is the trainer alone: `python -m sanacloud.model.train`
on the same data and spec, from process start to its first step; the difference is what the
platform adds (broker pickup, dataset download, process start).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HYPERPARAMETERS = {"steps": 20, "checkpoint_interval": 20, "batch_size": 4, "resolution": 128,
                   "validation_prompts": ["a red circle on a blue background"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scenes(folder: Path) -> bytes:
    from sanacloud.model.tiny.shapes import write_dataset

    write_dataset(folder, 8, 128, seed=1)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return archive.getvalue()


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def one_job(http: httpx.Client, dataset_id: str) -> dict[str, float]:
    posted = time.time()
    job = http.post("/v1/jobs", json={"type": "lora", "dataset_id": dataset_id, "base_model": "sana-tiny",
                                      "hyperparameters": HYPERPARAMETERS}).json()
    while True:
        events = http.get(f"/v1/jobs/{job['id']}/events", params={"limit": 1000}).json()["items"]
        step = next((e for e in events if e["type"] == "step"), None)
        if step is not None:
            break
        time.sleep(0.1)
    status = {e["payload"]["to"]: stamp(e["created_at"]) for e in events if e["type"] == "status"}
    start = next(e for e in events if e["type"] == "start")
    while http.get(f"/v1/jobs/{job['id']}").json()["status"] not in ("succeeded", "failed"):
        time.sleep(0.2)  # let it finish: the next run starts on an idle worker
    return {"admitted_s": status["admitted"] - posted, "running_s": status["running"] - posted,
            "trainer_start_s": start["payload"]["time"] - posted, "first_step_s": step["payload"]["time"] - posted}


def trainer_alone(data: Path, out: Path) -> float:
    from sanacloud.model.tiny import WEIGHTS

    spec = {"model": "sana-tiny", "model_path": str(WEIGHTS), "data_dir": str(data), "output_dir": str(out),
            "type": "lora", "seed": 0, **HYPERPARAMETERS}
    (out / "spec.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(spec))
    began = time.time()
    with subprocess.Popen([sys.executable, "-m", "sanacloud.model.train", "--spec", str(out / "spec.json")],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith('{"type": "step"'):
                first = json.loads(line)["time"] - began
                child.terminate()
                break
    return float(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sanacloud = str(Path(sys.executable).with_name("sanacloud"))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        archive = scenes(root / "scenes")
        port = free_port()
        env = {**os.environ, "SANACLOUD_MODE": "embedded", "SANACLOUD_DATABASE_URL": "", "SANACLOUD_BROKER_URL": "",
               "SANACLOUD_STORAGE_BACKEND": "local", "SANACLOUD_SECRET_KEY": ""}
        up = subprocess.Popen([sanacloud, "up", "--data-dir", str(root / "data"), "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            while not (root / "data" / "credentials.json").exists() or _down(url):
                time.sleep(0.3)
            key = json.loads((root / "data" / "credentials.json").read_text())["api_key"]
            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            dataset_id = http.post("/v1/datasets", json={"name": "scenes"}).json()["id"]
            http.post(f"/v1/datasets/{dataset_id}/files", files=[("files", ("s.zip", archive))]).raise_for_status()
            runs = [one_job(http, dataset_id) for _ in range(args.runs)]
        finally:
            up.terminate()
            up.wait(timeout=60)
        alone = [trainer_alone(root / "scenes", root / f"alone-{i}") for i in range(args.runs)]
    result: dict[str, Any] = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    result["trainer_alone_first_step_s"] = round(statistics.median(alone), 2)
    result["platform_overhead_s"] = round(result["first_step_s"] - result["trainer_alone_first_step_s"], 2)
    print(json.dumps({"runs": args.runs, **result}))


def _down(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code != 200
    except httpx.TransportError:
        return True


if __name__ == "__main__":
    main()
