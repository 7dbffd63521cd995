"""An image folder with captions, as the platform's worker materialises a dataset.

Layout (the Hugging Face imagefolder convention):

    root/
      metadata.jsonl        {"file_name": "cats/001.png", "text": "a photo of a cat"}  one object per line
      cats/001.png
      cats/002.jpg
      cats/002.txt          sidecar caption, used when no metadata.jsonl line names the image

A metadata line may also carry the image's scored captions (`"scored_captions"`, model/metadata_jsonl.py):
the platform writes them after auto-captioning, and training picks among them (model/captions.py).

A `metadata.jsonl` may also sit in a sub-folder; its `file_name`s are relative to that folder. The
caption key is "text" (or "caption"); an image with neither a metadata line nor a sidecar has the
caption "". Problems that make the set unusable raise ValueError naming the file (and line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from sanacloud.model.captions import ScoredCaption
from sanacloud.model.imaging import check_displayable, displayed_size, to_display_rgb
from sanacloud.model.metadata_jsonl import METADATA_NAME, read_metadata
from sanacloud.model.sidecar_captions import SIDECAR_SUFFIX, read_sidecar, sidecar_stem

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class ImageRecord:
    path: Path  # absolute
    caption: str  # stripped; "" when uncaptioned
    width: int  # as displayed (EXIF orientation applied)
    height: int
    scored: tuple[ScoredCaption, ...] = ()  # every caption with its source and score, when captioned

    def relative_to(self, root: Path) -> str:
        return self.path.relative_to(root).as_posix()


def read_image_folder(root: str | Path) -> list[ImageRecord]:
    """Every image under `root` with its caption, sorted by relative path."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ValueError(f"dataset folder {str(root)!r} does not exist")
    others: dict[str, Path] = {}
    sidecars: dict[str, Path] = {}  # by stem: "cats/002" for "cats/002.txt"
    metadata: list[Path] = []
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if not path.is_file() or _is_hidden(name):
            continue
        if path.name.lower() == METADATA_NAME:
            metadata.append(path)
        elif path.suffix.lower() == SIDECAR_SUFFIX:
            sidecars[sidecar_stem(name)] = path
        else:
            others[name] = path
    from_metadata, scored = _metadata_captions(root, metadata, others)
    images = {name: path for name, path in others.items()
              if name in from_metadata or path.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise ValueError(f"dataset folder {str(root)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    records = []
    for name, path in sorted(images.items()):
        if name in from_metadata:
            caption = from_metadata[name]
        else:
            sidecar = sidecars.get(sidecar_stem(name))
            caption = "" if sidecar is None else _sidecar_caption(sidecar)
        width, height = image_size(path)
        records.append(ImageRecord(path, caption, width, height, scored.get(name, ())))
    return records


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as a viewer shows it, without converting the pixels."""
    try:
        with Image.open(path) as image:
            check_displayable(image)
            return displayed_size(image)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ValueError(f"image {str(path)!r} cannot be read: {exc}") from None


def load_rgb(path: Path) -> Image.Image:
    """The image as a viewer shows it, 8-bit RGB: see `sanacloud.model.imaging.to_display_rgb`."""
    try:
        with Image.open(path) as opened:
            return to_display_rgb(opened)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ValueError(f"image {str(path)!r} cannot be decoded: {exc}") from None


def _is_hidden(name: str) -> bool:
    parts = name.split("/")
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _sidecar_caption(path: Path) -> str:
    try:
        return read_sidecar(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"caption file {str(path)!r}: {exc}") from None


def _metadata_captions(root: Path, files: list[Path], candidates: dict[str, Path]
                       ) -> tuple[dict[str, str], dict[str, tuple[ScoredCaption, ...]]]:
    """Caption and scored captions by image name (relative to root) from every metadata.jsonl; one
    line per image at most. A line may name any of `candidates`: the files that are neither captions
    nor metadata."""
    captions: dict[str, str] = {}
    scored: dict[str, tuple[ScoredCaption, ...]] = {}
    sources: dict[str, str] = {}
    for file in files:
        folder = file.parent.relative_to(root).as_posix()
        for line in read_metadata(file.read_bytes(), repr(str(file))):
            image = _join(folder, line.file_name, line.where)
            if image not in candidates:
                raise ValueError(f"{line.where} names {line.file_name!r}, but {str(root / image)!r} "
                                 "is not an image in the folder")
            if image in captions:
                raise ValueError(f"{line.where} captions {image!r} again (already on {sources[image]})")
            captions[image], sources[image], scored[image] = line.caption, line.where, line.scored
    return captions, scored


def _join(folder: str, name: str, where: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{where}: file_name {name!r} must be a path inside the dataset folder")
    joined = PurePosixPath(folder, path) if folder != "." else path
    return joined.as_posix()
