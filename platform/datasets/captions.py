"""The upload's `metadata.jsonl` captions: the Hugging Face imagefolder file, parsed by
sanacloud.model.metadata_jsonl as the trainer parses it, its names joined to the upload's folders. A
malformed file refuses the whole upload, naming the line. (`.txt` sidecars: sanacloud.model.sidecar_captions.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sanacloud.model.metadata_jsonl import read_metadata
from sanacloud.platform.datasets.names import folder_of, join_name, normalise_name
from sanacloud.platform.errors import InvalidInput


@dataclass(frozen=True)
class MetadataCaption:
    image: str  # normalised name of the image it captions
    caption: str | None  # stripped; None when empty, null or absent
    source: str  # "cats/metadata.jsonl line 3"


def parse_metadata(data: bytes, name: str) -> list[MetadataCaption]:
    """One caption per non-blank line; file_name is relative to the folder holding the metadata file."""
    folder = folder_of(name)
    try:
        return [MetadataCaption(join_name(folder, normalise_name(line.file_name, kind=f"{line.where}: file_name")),
                                line.caption or None, line.where) for line in read_metadata(data, name)]
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
