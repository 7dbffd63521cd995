"""The built-in captioner writes sana-tiny scenes' true captions; the built-in scorer prefers them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sanacloud.model.captioning.base import load_captioner, load_scorer
from sanacloud.model.captioning.tiny import Parts, TinyCaptioner, TinyScorer, describe, read_caption
from sanacloud.model.tiny.judge import Verdict
from sanacloud.model.tiny.shapes import ALL_COLORS, ALL_SHAPES, Scene, write_dataset


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Image.Image], list[Scene]]:
    folder = tmp_path_factory.mktemp("scenes")
    truth = write_dataset(folder, 60, 128, seed=7, colors=ALL_COLORS, shapes=ALL_SHAPES)
    assert {"pink", "star"} <= {word for scene in truth for word in scene.concepts}
    return [Image.open(folder / f"{i:04d}.png").convert("RGB") for i in range(len(truth))], truth


def test_captions_are_the_true_captions(scenes: tuple[list[Image.Image], list[Scene]]) -> None:
    images, truth = scenes
    captions = TinyCaptioner().caption(images)
    right = sum(caption == scene.caption for caption, scene in zip(captions, truth, strict=True)) / len(truth)
    print(f"tiny captioner: {right:.0%} of {len(truth)} captions exact")  # measured: 100 % (also of 300)
    assert right >= 0.9, [(c, s.caption) for c, s in zip(captions, truth, strict=True) if c != s.caption]


def test_the_true_caption_scores_highest(scenes: tuple[list[Image.Image], list[Scene]]) -> None:
    images, truth = scenes
    scorer = TinyScorer()
    true = scorer.score(images, [scene.caption for scene in truth])
    swapped = scorer.score(images, [Scene(s.shape, s.background, s.color).caption for s in truth])
    assert sum(t > w for t, w in zip(true, swapped, strict=True)) >= 0.9 * len(truth)
    assert sum(t == 100 for t in true) >= 0.9 * len(truth)
    assert all(0 <= value <= 100 for value in true + swapped)
    assert scorer.score(images[:1], ["my own words"]) == [0.0]


def test_partial_readings_give_partial_captions_and_scores(tmp_path: Path) -> None:
    assert describe(Verdict("blue", "red", None)) == "a red shape on a blue background"
    assert describe(Verdict("blue", None, "circle")) == "a circle on a blue background"
    assert describe(Verdict("orange", None, None)) == "an orange background"
    assert describe(Verdict(None, None, None)) == ""
    assert read_caption("A red shape on a blue background.") == Parts("red", None, "blue")
    assert read_caption("an orange background") == Parts(None, None, "orange")
    assert read_caption("a star") == Parts(None, "star", None)
    image = Image.new("RGB", (64, 64), (35, 75, 215))  # a plain blue background, no shape
    assert TinyCaptioner().caption([image]) == ["a blue background"]
    assert TinyScorer().score([image] * 2, ["a red circle on a blue background", "a blue circle"]) == \
        pytest.approx([100 / 3, 0.0])


def test_the_builtin_family_loads_without_files() -> None:
    assert isinstance(load_captioner("sana-tiny-judge", None, "cpu"), TinyCaptioner)
    assert isinstance(load_scorer("sana-tiny-judge", None, "cpu"), TinyScorer)
    with pytest.raises(ValueError, match="unknown captioner family 'gpt'"):
        load_captioner("gpt", None, "cpu")
