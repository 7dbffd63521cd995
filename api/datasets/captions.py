"""Captions: `.txt` sidecars (`a/b.png` + `a/b.txt`) and Hugging Face imagefolder `metadata.jsonl` files.

A bad sidecar is one rejected file; a malformed metadata.jsonl refuses the whole upload, naming the line.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

from sanacloud.api.datasets.names import folder_of, join_name, normalise_name
from sanacloud.platform.errors import InvalidInput

METADATA_NAME = "metadata.jsonl"
CAPTION_KEYS = ("text", "caption")  # the first one present wins
_EXAMPLE = '{"file_name": "001.png", "text": "a photo of a cat"}'


class CaptionRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MetadataCaption:
    image: str  # normalised name of the image it captions
    caption: str | None  # stripped; None when empty, null or absent
    source: str  # "cats/metadata.jsonl line 3"


def sidecar_stem(name: str) -> str:
    """What pairs an image with its sidecar: the same path without the extension."""
    return posixpath.splitext(name)[0]


def read_sidecar(data: bytes) -> str | None:
    """The caption in a .txt file: UTF-8 (a BOM is allowed), stripped; None when empty."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaptionRejected(f"caption is not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                              "save it as UTF-8") from None
    if "\x00" in text:
        raise CaptionRejected("caption contains a NUL character")
    return text.strip() or None


def parse_metadata(data: bytes, name: str) -> list[MetadataCaption]:
    """One caption per non-blank line; file_name is relative to the folder holding the metadata file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name!r} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    folder = folder_of(name)
    found: list[MetadataCaption] = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON strings may hold U+2028
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{where} is not valid JSON ({exc.msg}); each line must look like {_EXAMPLE}") from None
        if not isinstance(row, dict):
            raise InvalidInput(f"{where} is not a JSON object; each line must look like {_EXAMPLE}")
        file_name = row.get("file_name")
        if not isinstance(file_name, str):
            raise InvalidInput(f"{where} has no \"file_name\" string; each line must look like {_EXAMPLE}")
        key = next((key for key in CAPTION_KEYS if key in row), CAPTION_KEYS[0])
        caption = row.get(key)
        if caption is not None and not isinstance(caption, str):
            raise InvalidInput(f"{where}: \"{key}\" must be a string, not {type(caption).__name__}")
        if caption is not None and "\x00" in caption:
            raise InvalidInput(f"{where}: \"{key}\" contains a NUL character")
        image = join_name(folder, normalise_name(file_name, kind=f"{where}: file_name"))
        found.append(MetadataCaption(image, (caption or "").strip() or None, where))
    return found
