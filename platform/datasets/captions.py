"""Captions: `.txt` sidecars (`a/b.png` + `a/b.txt`) and Hugging Face imagefolder `metadata.jsonl` files
(parsed by sanacloud.model.metadata_jsonl, as the trainer parses them).

A bad sidecar is one rejected file; a malformed metadata.jsonl refuses the whole upload, naming the line.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from sanacloud.model.metadata_jsonl import read_metadata
from sanacloud.platform.datasets.names import folder_of, join_name, normalise_name
from sanacloud.platform.errors import InvalidInput


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
    folder = folder_of(name)
    try:
        return [MetadataCaption(join_name(folder, normalise_name(line.file_name, kind=f"{line.where}: file_name")),
                                line.caption or None, line.where) for line in read_metadata(data, name)]
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
