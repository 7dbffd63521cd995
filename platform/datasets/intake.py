"""Turns one upload (multipart files and/or .zip archives) into validated images with captions.

Pure: no database, HTTP or object storage, no global state; it writes only under `workdir`.
Steps: list every entry and refuse anything unsafe or too large before extracting a byte; copy
the entries we read into `workdir` (counting bytes as they stream, since declared sizes can lie);
decode every image; pair captions. Security and size problems refuse the whole upload
(InvalidInput, PayloadTooLarge); a bad image or caption is one Rejection in the result. Warnings
are one line per kind, however many files share it (`warning_groups`).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sanacloud.model.sidecar_captions import read_sidecar, sidecar_stem
from sanacloud.platform.datasets.captions import MetadataCaption, parse_metadata
from sanacloud.platform.datasets.entries import Entry, Kind, Spool, Spooled, list_entries
from sanacloud.platform.datasets.images import ImageRejected, inspect_image
from sanacloud.platform.datasets.names import suffix_of
from sanacloud.platform.datasets.upload import IncomingFile, IntakeLimits
from sanacloud.platform.datasets.warning_groups import Warn, WarningGroups
from sanacloud.platform.errors import InvalidInput

_WHAT_TO_SEND = "PNG, JPEG, WEBP, GIF, BMP or TIFF images with optional .txt captions or a metadata.jsonl, or a .zip"


@dataclass(frozen=True)
class AcceptedImage:
    name: str  # normalised relative posix name, e.g. "cats/001.png"
    format: str  # "png" | "jpeg" | "webp" | "gif" | "bmp" | "tiff"
    content_type: str  # e.g. "image/png"
    width: int
    height: int
    size_bytes: int
    sha256: str
    caption: str | None
    path: Path  # a file under `workdir` holding the exact bytes, to be uploaded to storage


@dataclass(frozen=True)
class Rejection:
    name: str
    reason: str


@dataclass
class IntakeResult:
    images: list[AcceptedImage]
    rejected: list[Rejection]
    warnings: list[str]


def read_upload(files: list[IncomingFile], limits: IntakeLimits, workdir: Path) -> IntakeResult:
    """Validate one upload; raise InvalidInput/PayloadTooLarge for problems that refuse all of it."""
    spool = Spool(workdir, limits)
    try:
        with contextlib.ExitStack() as archives:
            entries = list_entries(files, limits, archives)
            # Only captions and metadata (or nothing): refuse now. Non-images are rejected
            # one by one below, so the report names each of them.
            if all(entry.kind in (Kind.CAPTION, Kind.METADATA) for entry in entries):
                raise InvalidInput(f"the upload contains no images; send {_WHAT_TO_SEND}")
            intake = _Intake(limits)
            for entry in entries:
                intake.add(entry, spool)
        result = intake.finish()
    except BaseException:
        spool.discard(keep=set())
        raise
    spool.discard(keep={image.path for image in result.images})
    return result


@dataclass
class _Intake:
    limits: IntakeLimits
    images: list[Spooled] = field(default_factory=list)
    sidecars: dict[str, Spooled] = field(default_factory=dict)  # by stem: "a/b" for "a/b.txt"
    metadata: list[Spooled] = field(default_factory=list)
    sidecar_text: dict[str, str | None] = field(default_factory=dict)  # by sidecar name, once read
    sidecar_users: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # accepted images
    names: set[str] = field(default_factory=set)
    rejected: list[Rejection] = field(default_factory=list)
    warnings: WarningGroups = field(default_factory=WarningGroups)

    def add(self, entry: Entry, spool: Spool) -> None:
        self.names.add(entry.name)
        kind = entry.kind
        if kind is Kind.ARCHIVE:
            self.rejected.append(Rejection(entry.name, "nested zip archives are not expanded; "
                                                       "put the files in the outer archive instead"))
        elif kind is Kind.OTHER:
            suffix = suffix_of(entry.name)
            what = f"unsupported file type {suffix!r}" if suffix else "the file has no extension"
            self.rejected.append(Rejection(entry.name, f"not an image: {what}; send {_WHAT_TO_SEND}"))
        elif kind is Kind.IMAGE:
            self.images.append(spool.write(entry))
        elif kind is Kind.METADATA:
            self.metadata.append(spool.write(entry))
        elif kind is Kind.CAPTION:
            stem = sidecar_stem(entry.name)
            if stem in self.sidecars:  # "b.txt" and "b.TXT"
                self.rejected.append(Rejection(entry.name, f"{self.sidecars[stem].name!r} already captions this image"))
            else:
                self.sidecars[stem] = spool.write(entry)

    def finish(self) -> IntakeResult:
        from_metadata = self._metadata_captions()
        image_stems = {sidecar_stem(image.name) for image in self.images}
        for stem, orphan in sorted(self.sidecars.items()):
            if stem not in image_stems:
                self.warnings.add(Warn.ORPHAN_CAPTION, repr(orphan.name))
        accepted = [image for spooled in self.images if (image := self._accept(spooled, from_metadata)) is not None]
        for shared, users in sorted(self.sidecar_users.items()):
            if len(users) > 1:
                self.warnings.add(Warn.SHARED_SIDECAR, f"{shared!r} ({', '.join(map(repr, users))})")
        _warn_same_content(accepted, self.warnings)
        for image in accepted:
            if image.caption is None:
                self.warnings.add(Warn.UNCAPTIONED, repr(image.name))
        rejected = sorted(self.rejected, key=lambda rejection: (rejection.name, rejection.reason))
        return IntakeResult(images=accepted, rejected=rejected, warnings=self.warnings.lines())

    def _accept(self, image: Spooled, from_metadata: dict[str, MetadataCaption]) -> AcceptedImage | None:
        limits = self.limits
        try:
            info = inspect_image(image.path, suffix=suffix_of(image.name), max_pixels=limits.max_image_pixels,
                                 min_side=limits.min_image_side, max_side=limits.max_image_side,
                                 max_metadata_bytes=limits.max_image_metadata_bytes)
        except ImageRejected as exc:
            self.rejected.append(Rejection(image.name, exc.reason))
            return None
        caption, sidecar = self._caption(image.name, from_metadata)
        if caption is not None and len(caption) > limits.max_caption_chars:
            self.rejected.append(Rejection(image.name, self._too_long()))
            return None
        if sidecar is not None and caption is not None:
            self.sidecar_users[sidecar].append(image.name)
        return AcceptedImage(image.name, info.format, info.content_type, info.width, info.height, image.size,
                             image.sha256, caption, image.path)

    def _metadata_captions(self) -> dict[str, MetadataCaption]:
        captions: dict[str, MetadataCaption] = {}
        for spooled in self.metadata:
            for row in parse_metadata(spooled.path.read_bytes(), spooled.name):
                if row.image in captions:
                    raise InvalidInput(f"{row.source} captions {row.image!r} again (already in "
                                       f"{captions[row.image].source}); keep one caption per image")
                captions[row.image] = row
                if row.image not in self.names:
                    self.warnings.add(Warn.MISSING_IMAGE, f"{row.source} ({row.image!r})")
        return captions

    def _caption(self, image: str, from_metadata: dict[str, MetadataCaption]) -> tuple[str | None, str | None]:
        """(the caption, the name of the sidecar it came from)."""
        sidecar = self.sidecars.get(sidecar_stem(image))
        row = from_metadata.get(image)
        if row is not None:
            if sidecar is not None:
                self.warnings.add(Warn.TWO_CAPTIONS, f"{image!r} ({row.source} and {sidecar.name!r})")
            return row.caption, None
        if sidecar is None:
            return None, None
        return self._sidecar_caption(sidecar), sidecar.name

    def _sidecar_caption(self, sidecar: Spooled) -> str | None:
        """Read and judge each sidecar once ("a.png" and "a.jpg" share "a.txt"); unreadable means uncaptioned."""
        if sidecar.name not in self.sidecar_text:
            try:
                text = read_sidecar(sidecar.path.read_bytes()) or None
            except ValueError as exc:
                self.rejected.append(Rejection(sidecar.name, str(exc)))
                text = None
            if text is not None and len(text) > self.limits.max_caption_chars:
                self.rejected.append(Rejection(sidecar.name, f"{self._too_long()} ({len(text):,})"))
            self.sidecar_text[sidecar.name] = text
        return self.sidecar_text[sidecar.name]

    def _too_long(self) -> str:
        return f"caption longer than {self.limits.max_caption_chars} characters"


def _warn_same_content(images: list[AcceptedImage], warnings: WarningGroups) -> None:
    first: dict[str, str] = {}
    for image in images:
        if image.sha256 in first:
            warnings.add(Warn.SAME_CONTENT, f"{image.name!r} (same as {first[image.sha256]!r})")
        else:
            first[image.sha256] = image.name
