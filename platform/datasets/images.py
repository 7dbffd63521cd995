"""One uploaded image, fully decoded with Pillow, or a reason why it is refused.

The image is converted exactly as the trainer will see it (`sanacloud.model.imaging.to_display_rgb`),
and its size is reported as shown (EXIF orientation applied). Its metadata (text, EXIF, XMP...) is
capped; the file itself is stored unchanged.

The pixel limit is checked on the header's width*height before any pixel is decoded (and, for
WebP, whose Pillow plugin allocates its canvas while opening, before Pillow sees the file). Pillow's
own global limit (`Image.MAX_IMAGE_PIXELS`) is left as it is: it stays a second, looser guard,
and its warning is turned into an error while we decode. So the effective limit is the lower of
the two; a limit above Pillow's needs `Image.MAX_IMAGE_PIXELS` raised once at process start.
"""

from __future__ import annotations

import contextlib
import functools
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from sanacloud.model.imaging import UndisplayableImage, to_display_rgb
from sanacloud.platform.datasets.metadata import metadata_sizes

# Pillow format -> our name. MPO is the multi-picture JPEG many cameras write; it decodes as its first picture.
FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
                 "bmp": "image/bmp", "tiff": "image/tiff"}
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_ALLOWED_TEXT = "PNG, JPEG, WEBP, GIF, BMP or TIFF"
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_PNG_CHUNK_LIMITS = ("Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK", "Too much memory used in text")
_STRIP_METADATA = ("remove it (e.g. `exiftool -all= --icc_profile:all FILE`, which keeps the colour profile) "
                   "and upload again")


class ImageRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    format: str  # one of CONTENT_TYPES' keys
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@functools.cache
def image_suffixes() -> frozenset[str]:
    """Extensions of every format Pillow can open: such files are decoded (and maybe refused by format)."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def inspect_image(path: Path, *, suffix: str, max_pixels: int, min_side: int, max_side: int,
                  max_metadata_bytes: int) -> ImageInfo:
    """Decode the image at `path` completely; raise ImageRejected with a human-readable reason."""
    with path.open("rb") as fp:
        head = fp.read(32)
        if not head:
            raise ImageRejected("not an image: empty file")
        if (canvas := _webp_canvas(head)) is not None:
            _check_pixels(*canvas, max_pixels)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(fp, suffix, max_pixels) as image, _decoding(max_pixels):
                _check_pixels(*image.size, max_pixels)
                fmt = FORMATS[str(image.format)]
                width, height = to_display_rgb(image).size  # decodes: what the trainer will see
                _check_sides(width, height, min_side, max_side)
                _check_metadata(image, path, max_metadata_bytes)
            with _open(fp, suffix, max_pixels) as fresh, _decoding(max_pixels):
                fresh.verify()  # PNG: checks every chunk's CRC, which load() skips
    return ImageInfo(fmt, width, height)


def _open(fp: BinaryIO, suffix: str, max_pixels: int) -> ImageFile.ImageFile:
    fp.seek(0)
    try:
        return Image.open(fp, formats=_OPEN_FORMATS)
    except UnidentifiedImageError:
        other = _other_format(fp, suffix)
        if other:
            raise ImageRejected(f"unsupported image format {other} (use {_ALLOWED_TEXT})") from None
        raise ImageRejected("not an image: cannot identify image file") from None
    except _BOMB_ERRORS as exc:
        raise ImageRejected(_pillow_bomb_reason(exc, max_pixels)) from None
    except Exception as exc:  # Pillow's parsers raise assorted errors on malformed headers
        raise ImageRejected(_corrupt_reason(exc)) from None


def _other_format(fp: BinaryIO, suffix: str) -> str | None:
    """The format the extension promises, if the file really is one that we do not accept (ICO, PSD...)."""
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt in _OPEN_FORMATS or fmt not in Image.OPEN:
        return None
    fp.seek(0)
    try:
        with Image.open(fp, formats=(fmt,)) as other:
            return str(other.format)
    except Exception:  # only naming the format here; any failure means "not an image"
        return None


@contextlib.contextmanager
def _decoding(max_pixels: int) -> Iterator[None]:
    """Pillow's errors while reading an opened image as ImageRejected."""
    try:
        yield
    except ImageRejected:
        raise
    except UndisplayableImage as exc:
        raise ImageRejected(str(exc)) from None
    except _BOMB_ERRORS as exc:
        raise ImageRejected(_pillow_bomb_reason(exc, max_pixels)) from None
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, struct.error, EOFError...
        message = str(exc).lower()
        if isinstance(exc, (EOFError, struct.error)) or "truncat" in message or "incomplete" in message:
            raise ImageRejected("truncated image") from None
        raise ImageRejected(_corrupt_reason(exc)) from None


def _check_metadata(image: ImageFile.ImageFile, path: Path, limit: int) -> None:
    sizes = metadata_sizes(image, path)
    total = sum(sizes.values())
    if total > limit:
        largest = ", ".join(f"{kind}: {size:,} bytes" for kind, size in sizes.most_common(3))
        raise ImageRejected(f"too much metadata: {total:,} bytes ({largest}); the limit is {limit:,} bytes "
                            f"(SANACLOUD_MAX_IMAGE_METADATA_BYTES); {_STRIP_METADATA}")


def _corrupt_reason(exc: Exception) -> str:
    if any(limit in str(exc) for limit in _PNG_CHUNK_LIMITS):
        return (f"a compressed PNG text or colour profile chunk expands past {PngImagePlugin.MAX_TEXT_CHUNK:,} "
                "bytes; re-save the image without that metadata (or converted to sRGB, without its profile)")
    return f"corrupt image: {_describe(exc)}"


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageRejected(f"decompression bomb: {width}x{height} = {width * height:,} pixels "
                            f"exceeds the limit of {max_pixels:,}")


def _check_sides(width: int, height: int, min_side: int, max_side: int) -> None:
    if min(width, height) < min_side:
        raise ImageRejected(f"image too small: {width}x{height} pixels; each side must be at least {min_side}")
    if max(width, height) > max_side:
        raise ImageRejected(f"image too large: {width}x{height} pixels; each side must be at most {max_side}")


def _pillow_bomb_reason(exc: Exception, max_pixels: int) -> str:
    """Pillow refused before we saw the size; say it in our words, with the lower of the two limits."""
    found = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
    if found is None:
        return f"decompression bomb: {exc}"
    pixels, pillow_limit = int(found[1]), int(found[2])
    return f"decompression bomb: {pixels:,} pixels exceeds the limit of {min(max_pixels, pillow_limit):,}"


def _describe(exc: Exception) -> str:
    text = re.sub(r"<_io\.\w+ name=[^>]*>", "<file>", str(exc))  # never leak the server's temp path
    return text or type(exc).__name__


def _webp_canvas(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (RIFF....WEBP + VP8/VP8L/VP8X chunk), without decoding."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
