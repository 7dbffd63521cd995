"""The trainer run as its command (`python -m sanacloud.model.train`), and what it trains in tests: a
randomly initialised sana-tiny saved as a diffusers folder and a small captioned image set, enough
to exercise the trainer's mechanics in seconds (quality is tested with the shipped weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sanacloud.model.train.spec import TrainSpec


@pytest.fixture(scope="session")
def random_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sanacloud.model.tiny.config import fresh

    folder = tmp_path_factory.mktemp("random-tiny")
    fresh(seed=0).save(folder)
    return folder


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sanacloud.model.tiny.shapes import write_dataset

    folder = tmp_path_factory.mktemp("shapes")
    write_dataset(folder, 8, 128, seed=5)
    return folder


def make_spec(base: Path, data: Path, out: Path, **overrides: Any) -> TrainSpec:
    fields: dict[str, Any] = {"model": "sana-tiny", "model_path": base, "data_dir": data, "output_dir": out,
                              "steps": 4, "batch_size": 2, "learning_rate": 1e-3, "seed": 3,
                              "caption_dropout": 0.2, "validation_steps": 2}
    return TrainSpec(**{**fields, **overrides})


def run_trainer(spec: TrainSpec, *, stop_after_step: int | None = None, launcher: list[str] | None = None,
                timeout: float = 300, exit_code: int = 0) -> list[dict[str, Any]]:
    """Run `python -m sanacloud.model.train` (optionally under a launcher); returns its events.

    With `stop_after_step`, SIGTERM is sent once that step's event has been read. `exit_code`: the
    one expected (1: the run fails).
    """
    path = spec.output_dir / "spec.json"
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.model_dump_json())
    argv = [*(launcher or [sys.executable]), "-m", "sanacloud.model.train", "--spec", str(path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    events: list[dict[str, Any]] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        for line in _lines(process.stdout):
            if line.startswith("{"):
                event = json.loads(line)
                events.append(event)
                if event["type"] == "step" and event["step"] == stop_after_step:
                    process.terminate()
        stderr = process.stderr.read() if process.stderr else ""
        process.wait(timeout=timeout)
    if process.returncode != exit_code:
        raise AssertionError(f"trainer exited {process.returncode}: {events[-3:]}\n{stderr[-3000:]}")
    return events


def _lines(stream: Any) -> Iterator[str]:
    for line in stream:
        yield line.strip()


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]
