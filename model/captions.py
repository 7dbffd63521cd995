"""Which caption an image trains on when it has several: its user caption and those captioners
wrote, each with a CLIP score (0..100, or None when unscored).

    choices = caption_choices("", scored, choice="weighted", temperature=0.1)   # [(text, probability)]

`user_first`: the user's caption when there is one, else the best-scoring captioner's.
`best`: the best-scoring caption of all (the user's counts with its score).
`weighted`: every scored caption, drawn each step with probability proportional to
score^(1/temperature), as NVlabs/Sana's data loader samples its captioners' captions (its configs'
`clip_thr_temperature` 0.1: scores 30 and 27 are drawn 74 % : 26 %); a small temperature tends to
`best`, a large one to uniform. With no scores at all, the captions are drawn uniformly.

An image with no caption of any kind has the one choice "" (the trainer's instance prompt, if
any, then stands in for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Choice = Literal["user_first", "best", "weighted"]
USER = "user"  # the source of the caption the tenant wrote


@dataclass(frozen=True)
class ScoredCaption:
    source: str  # "user", or the captioner's registered name
    text: str
    score: float | None = None


def caption_choices(caption: str, scored: Sequence[ScoredCaption], *, choice: Choice,
                    temperature: float) -> list[tuple[str, float]]:
    """The distinct texts the image may train on, with their probabilities (summing to 1)."""
    if temperature <= 0:
        raise ValueError(f"caption temperature must be above 0, not {temperature}")
    candidates = _candidates(caption, scored)
    if not candidates:
        return [("", 1.0)]
    if choice == "user_first":
        if caption:
            return [(caption, 1.0)]
        return [(_best(candidates).text, 1.0)]
    if choice == "best":
        return [(_best(candidates).text, 1.0)]
    return _weighted(candidates, temperature)


def _candidates(caption: str, scored: Sequence[ScoredCaption]) -> list[ScoredCaption]:
    """One per distinct non-empty text (the higher score kept); the user's caption always among them."""
    by_text: dict[str, ScoredCaption] = {}
    user_score = next((c.score for c in scored if c.source == USER and c.text == caption), None)
    for candidate in ([ScoredCaption(USER, caption, user_score)] if caption else []) + \
            [c for c in scored if c.source != USER]:
        if not candidate.text:
            continue
        kept = by_text.get(candidate.text)
        if kept is None or _key(candidate) > _key(kept):
            by_text[candidate.text] = candidate
    return list(by_text.values())


def _key(candidate: ScoredCaption) -> float:
    return float("-inf") if candidate.score is None else candidate.score


def _best(candidates: list[ScoredCaption]) -> ScoredCaption:
    """The highest score; ties (and no scores) go to the earliest: the user's caption first."""
    return max(candidates, key=_key)


def _weighted(candidates: list[ScoredCaption], temperature: float) -> list[tuple[str, float]]:
    scored = [c for c in candidates if c.score is not None and c.score > 0]
    if not scored:
        return [(c.text, 1 / len(candidates)) for c in candidates]
    top = max(c.score or 0.0 for c in scored)
    # score^(1/T) / sum, computed relative to the top score so that a small T does not overflow
    weights = [((c.score or 0.0) / top) ** (1 / temperature) for c in scored]
    total = sum(weights)
    return [(c.text, w / total) for c, w in zip(scored, weights, strict=True)]
