"""Prior preservation (DreamBooth) in the trainer: class images uploaded or generated once by the
base model, captioned with the class prompt alone, trained in every step next to the instances with
loss = instance + weight * prior, and resumed exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from sanacloud.model.train.spec import PriorSpec
from tests.helpers.trainer import make_spec, of_type, run_trainer


def test_missing_class_images_are_generated_once_and_reused(random_tiny: Path, shapes_data: Path,
                                                            tmp_path: Path) -> None:
    prior = PriorSpec(class_prompt="a circle", num_class_images=3)
    common = {"steps": 2, "lora": {"rank": 4}, "cache_dir": tmp_path / "cache", "prior": prior}
    events = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "first", **common))
    (made,) = of_type(events, "class_images")
    assert (made["uploaded"], made["generated"], made["reused"]) == (0, 3, False)
    assert len(list(Path(made["path"]).glob("generated-*.png"))) == 3
    steps = of_type(events, "step")
    assert [e["step"] for e in steps] == [1, 2] and all(e["prior_loss"] > 0 for e in steps)

    again = of_type(run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "second", **common)), "class_images")
    assert again == [{**made, "time": again[0]["time"], "generated": 0, "reused": True}]


def test_uploaded_class_images_come_first_and_the_rest_are_generated(random_tiny: Path, shapes_data: Path,
                                                                     tmp_path: Path) -> None:
    uploads = tmp_path / "class-data"
    uploads.mkdir()
    first, second = sorted(shapes_data.glob("*.png"))[:2]
    shutil.copy(first, uploads / "a.png")
    Image.open(second).resize((128, 64)).save(uploads / "b.png")  # another bucket: a forward of its own
    prior = PriorSpec(class_prompt="a shape", class_data_dir=uploads, num_class_images=3)
    events = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "run", steps=3, batch_size=1,
                                   lora={"rank": 4}, prior=prior))
    (made,) = of_type(events, "class_images")
    assert (made["uploaded"], made["generated"], made["reused"]) == (2, 1, False)
    assert sorted(p.name for p in Path(made["path"]).glob("*.png")) == [
        "generated-00000.png", "uploaded-00000.png", "uploaded-00001.png"]
    assert all(e["prior_loss"] > 0 for e in of_type(events, "step"))


def test_resume_reproduces_the_losses_and_prior_losses(random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    common = {"steps": 5, "checkpoint_interval": 5, "lora": {"rank": 4}, "flip": True, "cache_dir": tmp_path / "cache",
              "prior": PriorSpec(class_prompt="a circle", num_class_images=5, loss_weight=0.7)}
    straight = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "straight", **common))
    interrupted = make_spec(random_tiny, shapes_data, tmp_path / "interrupted", **common)
    stop_step = of_type(run_trainer(interrupted, stop_after_step=2), "stopped")[0]["step"]
    assert 2 <= stop_step < 5
    second = run_trainer(interrupted)
    assert of_type(second, "resumed")[0]["step"] == stop_step

    expected = {e["step"]: e for e in of_type(straight, "step")}
    resumed = {e["step"]: e for e in of_type(second, "step")}
    assert sorted(resumed) == list(range(stop_step + 1, 6))
    for step, event in resumed.items():
        for name in ("loss", "instance_loss", "prior_loss"):
            assert event[name] == pytest.approx(expected[step][name], rel=1e-5, abs=1e-7), (step, name)


def test_class_captions_are_the_class_prompt_without_the_trigger(random_tiny: Path, shapes_data: Path,
                                                                 tmp_path: Path) -> None:
    prior = PriorSpec(class_prompt="a photo of a shape", num_class_images=1)
    spec = make_spec(random_tiny, shapes_data, tmp_path / "run", steps=1, trigger="zqx", lora={"rank": 4}, prior=prior)
    run_trainer(spec)
    indexes = (spec.output_dir / "cache").glob("texts-*/index.json")
    captions = [json.loads(index.read_text())["captions"] for index in indexes]
    assert ["", "a photo of a shape"] in captions
    instance = next(c for c in captions if c != ["", "a photo of a shape"])
    assert all(text.startswith("zqx") for text in instance if text)
    (class_folder,) = (spec.output_dir / "cache").glob("class-images-*")
    lines = (class_folder / "metadata.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["a photo of a shape"]


def test_the_loss_is_the_instance_loss_plus_the_weighted_prior_loss(random_tiny: Path, shapes_data: Path,
                                                                    tmp_path: Path) -> None:
    prior = PriorSpec(class_prompt="a circle", num_class_images=2, loss_weight=0.25)
    events = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "run", steps=3, gradient_accumulation_steps=2,
                                   lora={"rank": 4}, prior=prior))
    for event in of_type(events, "step"):
        assert event["loss"] == pytest.approx(event["instance_loss"] + 0.25 * event["prior_loss"], abs=3e-6)
        assert event["prior_loss"] > 0 and event["instance_loss"] > 0
