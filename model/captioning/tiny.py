"""The built-in captioner and scorer (family `sana-tiny-judge`) for the shipped sana-tiny's world.

This is not a neural network: it is a procedural reader of sana-tiny's synthetic scenes (one flat
shape on a flat background, `model/tiny/shapes.py`) built on the judge (`model/tiny/judge.py`),
so that auto-captioning runs offline and without model files. It knows ten colours and five
shapes and nothing else; it is meaningless for real photos.

`TinyCaptioner` writes what the judge reads, in the training set's format:
    all three parts        "a red circle on a blue background"   (`Scene.caption`)
    no shape colour        "a circle on a blue background"
    no shape               "a red shape on a blue background"
    neither                "a blue background"
    nothing (no flat background, noise): ""
The judge refuses a shape colour that would equal the background's; should it ever name both the
same, the shape colour is left out.

`TinyScorer`: 100 x (the parts of the judge's reading the caption names rightly) / 3. A part is
the shape's colour, the shape and the background colour; the caption's are read by `read_caption`
(the colour and shape words before " on ", the colour word after it). A perfect caption scores
100, a right shape with swapped colours 33.3, a caption naming nothing of the image 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from sanacloud.model.tiny.judge import Verdict, judge
from sanacloud.model.tiny.shapes import COLORS, SHAPES, Scene

PARTS = 3  # the shape's colour, the shape, the background colour


@dataclass(frozen=True)
class Parts:
    """What a caption (or the judge) names of a scene; None where it names nothing."""

    color: str | None
    shape: str | None
    background: str | None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(verdict: Verdict) -> str:
    """The caption of what the judge read (see the module docstring for partial readings)."""
    background, color, shape = verdict.background, verdict.color, verdict.shape
    if background is None:
        return ""
    if color == background:
        color = None
    if color is not None and shape is not None:
        return Scene(shape=shape, color=color, background=background).caption
    tail = f"{_article(background)} {background} background"
    if shape is not None:
        return f"{_article(shape)} {shape} on {tail}"
    if color is not None:
        return f"{_article(color)} {color} shape on {tail}"
    return tail


def read_caption(text: str) -> Parts:
    """The colour, shape and background a caption names: words of the vocabulary before " on "
    describe the shape, the first colour word after it the background. Without " on ", a text
    ending in "background" names only a background; any other names only a shape."""
    words = " ".join(text.lower().replace(",", " ").split()).rstrip(".").split()
    if "on" in words:
        cut = words.index("on")
        front, back = words[:cut], words[cut + 1:]
    elif words and words[-1] == "background":
        front, back = [], words
    else:
        front, back = words, []
    return Parts(color=next((w for w in front if w in COLORS), None),
                 shape=next((w for w in front if w in SHAPES), None),
                 background=next((w for w in back if w in COLORS), None))


def agreement(verdict: Verdict, text: str) -> float:
    """100 x the parts of the judge's reading that `text` names rightly / 3."""
    named = read_caption(text)
    right = sum(seen is not None and seen == said for seen, said in (
        (verdict.color, named.color), (verdict.shape, named.shape), (verdict.background, named.background)))
    return 100.0 * right / PARTS


class TinyCaptioner:
    """Captions sana-tiny scenes with what the judge reads (deterministic, ~3 ms per 128 px image)."""

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        return [describe(judge(image)) for image in images]


class TinyScorer:
    """Scores a caption against a sana-tiny scene by agreement with the judge (0, 33.3, 66.7 or 100)."""

    def score(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        return [agreement(judge(image), text) for image, text in zip(images, texts, strict=True)]
