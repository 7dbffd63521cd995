"""What the intake pipeline takes in: an upload's files as received, and the limits it is held to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class IntakeLimits:
    max_file_bytes: int  # one image or caption file
    max_total_bytes: int  # all files of the upload after unzipping
    max_files: int  # entries (after unzipping)
    max_image_pixels: int  # width*height; guards against decompression bombs
    min_image_side: int
    max_image_side: int
    max_caption_chars: int
    max_image_metadata_bytes: int  # text, EXIF, XMP... in one image; its colour profile does not count

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"IntakeLimits.{name} must be positive, got {value}")
        if self.min_image_side > self.max_image_side:
            raise ValueError("IntakeLimits.min_image_side must not exceed max_image_side")


@dataclass(frozen=True)
class IncomingFile:  # one part of a multipart upload as received
    filename: str  # client-supplied name
    stream: BinaryIO  # readable, seekable
    size: int  # as declared; 0 when unknown (bytes are counted anyway)
