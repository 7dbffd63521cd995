"""The Hugging Face imagefolder `metadata.jsonl`: one JSON object per line naming an image and its
caption (and, after auto-captioning, `"scored_captions"`: every caption of the image with its source and
CLIP score, `[{"source": "sana-tiny-captioner", "text": "...", "score": 31.2}]`). The trainer's
image folder (model/data/folder.py) and the platform's upload intake read it with this one parser;
each joins the names to its own folder and says what it refuses. Standard library only, so the API
imports it without torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sanacloud.model.captions import ScoredCaption

METADATA_NAME = "metadata.jsonl"
CAPTION_KEYS = ("text", "caption")  # the first one present wins
# What the platform's worker writes after auto-captioning; a name of its own, so that a dataset's
# own columns (a "captions" list, say) are never taken for it.
SCORED_KEY = "scored_captions"
_EXAMPLE = '{"file_name": "001.png", "text": "a photo of a cat"}'


@dataclass(frozen=True)
class MetadataLine:
    where: str  # for messages: "<source> line 3"
    file_name: str  # as written: relative to the folder holding the metadata file
    caption: str  # stripped; "" when empty, null or absent
    scored: tuple[ScoredCaption, ...] = ()  # "scored_captions", in the order written


def read_metadata(data: bytes, source: str) -> Iterator[MetadataLine]:
    """Each non-blank line in order; raises ValueError naming `source` (and the line) at the first
    that is malformed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON strings may hold U+2028
        if line.strip():
            yield _parse_line(line, f"{source} line {number}")


def _parse_line(line: str, where: str) -> MetadataLine:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc.msg}); each line must look like {_EXAMPLE}") from None
    if not isinstance(row, dict):
        raise ValueError(f"{where} is not a JSON object; each line must look like {_EXAMPLE}")
    file_name = row.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f'{where} has no "file_name" string; each line must look like {_EXAMPLE}')
    key = next((key for key in CAPTION_KEYS if key in row), CAPTION_KEYS[0])
    caption = row.get(key)
    if caption is not None and not isinstance(caption, str):
        raise ValueError(f'{where}: "{key}" must be a string, not {type(caption).__name__}')
    if caption is not None and "\x00" in caption:
        raise ValueError(f'{where}: "{key}" contains a NUL character')
    return MetadataLine(where, file_name, (caption or "").strip(), _scored(row.get(SCORED_KEY, []), where))


def _scored(value: Any, where: str) -> tuple[ScoredCaption, ...]:
    example = '[{"source": "captioner", "text": "a photo of a cat", "score": 31.2}]'
    if not isinstance(value, list):
        raise ValueError(f'{where}: "{SCORED_KEY}" must be a list like {example}')
    found = []
    for item in value:
        text, source, score = (item.get(k) if isinstance(item, dict) else None for k in ("text", "source", "score"))
        if not isinstance(text, str) or not isinstance(source, str) or \
                not (score is None or (isinstance(score, int | float) and not isinstance(score, bool))):
            raise ValueError(f'{where}: each of "{SCORED_KEY}" must look like {example}')
        found.append(ScoredCaption(source, text.strip(), None if score is None else float(score)))
    return tuple(found)
