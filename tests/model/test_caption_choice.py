"""Choosing among an image's captions: user first, best, or drawn each step by score and temperature
(deterministic, and a resumed run draws what the uninterrupted one would have)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from sanacloud.model.captions import ScoredCaption, caption_choices
from sanacloud.model.data.cache import build_latent_cache, build_text_cache
from sanacloud.model.data.folder import read_image_folder
from sanacloud.model.data.training import TrainingData
from tests.model.test_data import RES, FakeTextEncoder, FakeVAE, same, save_image, take, write_metadata

BLUE = ScoredCaption("tiny", "a blue circle", 30.0)
RED = ScoredCaption("blip", "a red circle", 27.0)


def test_user_first_keeps_the_users_caption_and_falls_back_to_the_best_scored() -> None:
    assert caption_choices("my dog", [BLUE, RED], choice="user_first", temperature=0.1) == [("my dog", 1.0)]
    assert caption_choices("", [RED, BLUE], choice="user_first", temperature=0.1) == [("a blue circle", 1.0)]
    assert caption_choices("", [], choice="weighted", temperature=0.1) == [("", 1.0)], "nothing to choose"


def test_best_counts_the_users_caption_by_its_score() -> None:
    user = ScoredCaption("user", "my dog", 25.0)
    assert caption_choices("my dog", [user, BLUE, RED], choice="best", temperature=0.1) == [("a blue circle", 1.0)]
    liked = ScoredCaption("user", "my dog", 31.0)
    assert caption_choices("my dog", [liked, BLUE], choice="best", temperature=0.1) == [("my dog", 1.0)]


def test_weighted_follows_score_to_the_power_one_over_temperature() -> None:
    for temperature in (0.1, 1.0, 5.0):
        choices = dict(caption_choices("", [BLUE, RED], choice="weighted", temperature=temperature))
        expected = 30 ** (1 / temperature) / (30 ** (1 / temperature) + 27 ** (1 / temperature))
        assert choices["a blue circle"] == pytest.approx(expected)
    sharp = dict(caption_choices("", [BLUE, RED], choice="weighted", temperature=0.01))
    assert sharp["a blue circle"] > 0.99, "a small temperature tends to the best caption"
    unscored = caption_choices("", [ScoredCaption("a", "x"), ScoredCaption("b", "y")], choice="weighted",
                               temperature=0.1)
    assert unscored == [("x", 0.5), ("y", 0.5)], "no scores: drawn evenly"


def scored_set(root: Path) -> TrainingData:
    """Two images, each with two scored captions (the first's also with a user caption)."""
    for i in range(2):
        save_image(root / "set" / f"{i}.png", RES, RES, seed=i)
    two = [("a blue circle", 30.0), ("a red circle", 27.0)], [("a ring", 20.0), ("a hoop", 20.0)]
    write_metadata(root / "set", [
        {"file_name": f"{i}.png", "text": "", "scored_captions": [
            {"source": source, "text": text, "score": score} for source, (text, score) in zip(("tiny", "blip"), pair,
                                                                                            strict=True)]}
        for i, pair in enumerate(two)])
    records = read_image_folder(root / "set")
    choices = [caption_choices(r.caption, r.scored, choice="weighted", temperature=0.1) for r in records]
    latents = build_latent_cache(records, RES, FakeVAE(), root / "cache", flip=False, key="vae@1")
    texts = build_text_cache([t for options in choices for t, _ in options], FakeTextEncoder(), root / "cache",
                             key="t@1")
    return TrainingData(records, latents, texts, batch_size=2, seed=3, choices=choices)


def test_over_many_steps_caption_frequencies_follow_the_scores(tmp_path: Path) -> None:
    data = scored_set(tmp_path)
    steps = 3000
    drawn = Counter(caption for planned in list(_planned(data, steps)) for caption in data.captions_of(planned))
    expected = 30**10 / (30**10 + 27**10)  # T = 0.1: 0.74
    tolerance = 4 * math.sqrt(expected * (1 - expected) / steps)
    assert abs(drawn["a blue circle"] / steps - expected) < tolerance, drawn
    assert abs(drawn["a ring"] / steps - 0.5) < 4 * math.sqrt(0.25 / steps), drawn
    assert drawn["a blue circle"] + drawn["a red circle"] == steps


def test_caption_draws_are_deterministic_and_a_resumed_run_repeats_them(tmp_path: Path) -> None:
    straight = take(scored_set(tmp_path), 9)
    first = scored_set(tmp_path)
    head = take(first, 4)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = scored_set(tmp_path)
    resumed.load_state_dict(state)
    assert same(straight, head + take(resumed, 5))
    assert not same(straight, take(TrainingData(first.records, first.latents, first.texts, batch_size=2, seed=4,
                                                choices=first.choices), 9)), "another seed draws otherwise"


def _planned(data: TrainingData, count: int):  # type: ignore[no-untyped-def]
    stream = data.plan.batches_from(0, 0)
    for _ in range(count):
        yield next(stream)
