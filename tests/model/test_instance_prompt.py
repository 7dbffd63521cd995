"""Photos without captions (the usual fine-tuning set): the job's instance prompt captions them and
its trigger word goes first in every caption, so what the text encoder caches, and the model learns
to answer to, is exactly that prompt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sanacloud.model.train.spec import training_caption
from tests.helpers.trainer import make_spec, of_type, run_trainer


@pytest.mark.parametrize(("caption", "instance_prompt", "trigger", "trained"), [
    ("", "a photo of sks dog", None, "a photo of sks dog"),
    ("", "a photo of sks dog", "sks", "a photo of sks dog"),  # the trigger is there already, as a word
    ("a red ball", "a photo of sks dog", "sks", "sks, a red ball"),  # a caption of the user's wins
    ("", None, "<my-style>", "<my-style>"),
    ("sksdog on grass", None, "sks", "sks, sksdog on grass"),  # inside a word does not count
    ("", None, None, ""),
])
def test_what_an_image_trains_on(caption: str, instance_prompt: str | None, trigger: str | None,
                                 trained: str) -> None:
    assert training_caption(caption, instance_prompt=instance_prompt, trigger=trigger) == trained


def test_an_uncaptioned_folder_trains_on_the_instance_prompt_with_the_trigger_first(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for image in sorted(shapes_data.glob("*.png"))[:4]:
        shutil.copy(image, photos / image.name)  # no metadata.jsonl, no sidecars: uncaptioned
    spec = make_spec(random_tiny, photos, tmp_path / "run", steps=2, instance_prompt="a photo of a shape",
                     trigger="zqx", lora={"rank": 4})
    events = run_trainer(spec)
    assert of_type(events, "done")
    (index,) = (spec.output_dir / "cache").glob("texts-*/index.json")
    assert json.loads(index.read_text())["captions"] == ["", "zqx, a photo of a shape"]
