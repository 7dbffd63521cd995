"""How many bytes of an uploaded image are metadata (text, EXIF, XMP, comments, maker notes...), by kind.

Counted from the file's own structure where Pillow skips parts (PNG chunks, WebP's RIFF chunks, GIF's
extension blocks, bytes after the image's end), from the segments and tags Pillow parses otherwise (JPEG,
TIFF). What a viewer needs to draw the pixels is not counted: pixel data, palette, transparency, gamma,
animation control, and the ICC colour profile. The walks stop quietly at anything malformed: they run
on files that decoded.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PIL import Image, TiffTags

_PNG_IMAGE_CHUNKS = frozenset(b"IHDR PLTE IDAT IEND tRNS iCCP sRGB gAMA cHRM cICP mDCV cLLI sBIT bKGD hIST pHYs "
                              b"sPLT acTL fcTL fdAT".split())
_PNG_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_GIF_ANIMATION_APPS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0"})
_JPEG_IMAGE_SEGMENTS = (("APP0", b"JFIF\0"), ("APP2", b"ICC_PROFILE\0"), ("APP2", b"MPF\0"), ("APP14", b"Adobe"))
_JPEG_KINDS = ((b"Exif\0", "EXIF"), (b"http://ns.adobe.com/xap/1.0/\0", "XMP"),
               (b"http://ns.adobe.com/xmp/extension/\0", "XMP"), (b"Photoshop 3.0\0", "Photoshop/IPTC"))
_TIFF_IMAGE_TAGS = frozenset({347, 34675})  # JPEGTables, the ICC profile
_TIFF_KINDS = {700: "XMP", 33723: "IPTC", 34377: "Photoshop/IPTC", 37500: "EXIF maker note"}
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_AFTER_END = "data after the end of the image"


def metadata_sizes(image: Image.Image, path: Path) -> Counter[str]:
    """Bytes of metadata in the image file at `path` (opened as `image`), by kind: {"EXIF": 1234, ...}."""
    readers: dict[str | None, Callable[[Image.Image, Path], Counter[str]]] = {
        "PNG": _png, "WEBP": _webp, "GIF": _gif, "JPEG": _jpeg, "MPO": _jpeg, "TIFF": _tiff}
    reader = readers.get(image.format)
    return Counter() if reader is None else reader(image, path)  # BMP: only a colour profile


def _png(image: Image.Image, path: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    with path.open("rb") as fp:
        fp.seek(8)
        while len(header := fp.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            start = fp.tell()
            if kind in _PNG_TEXT_CHUNKS:
                keyword = fp.read(min(length, 80)).split(b"\0", 1)[0].decode("latin-1")
                sizes["XMP" if keyword == "XML:com.adobe.xmp" else f"PNG text {keyword!r}"] += length
            elif kind == b"eXIf":
                sizes["EXIF"] += length
            elif kind not in _PNG_IMAGE_CHUNKS:
                sizes[f"PNG chunk {kind.decode('latin-1')!r}"] += length
            fp.seek(start + length + 4)  # the data and its CRC
            if kind == b"IEND":
                _count_after(fp, fp.tell(), sizes)
                break
    return sizes


def _webp(image: Image.Image, path: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    with path.open("rb") as fp:
        end = 8 + int.from_bytes(fp.read(12)[4:8], "little")  # RIFF size counts from byte 8
        while fp.tell() < end and len(header := fp.read(8)) == 8:
            kind, length = header[:4], int.from_bytes(header[4:], "little")
            if kind not in _WEBP_IMAGE_CHUNKS:
                sizes[{b"EXIF": "EXIF", b"XMP ": "XMP"}.get(kind, f"WebP chunk {kind.decode('latin-1')!r}")] += length
            fp.seek(length + length % 2, os.SEEK_CUR)
        _count_after(fp, end, sizes)
    return sizes


def _gif(image: Image.Image, path: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    with path.open("rb") as fp:
        screen = fp.read(13)
        _skip_colour_table(fp, screen[10:11])
        while (introducer := fp.read(1)) in (b"!", b","):
            if introducer == b",":  # an image: descriptor, colour table, LZW code size, data
                descriptor = fp.read(9)
                _skip_colour_table(fp, descriptor[8:9])
                fp.read(1)
                _gif_blocks(fp)
                continue
            label = fp.read(1)
            first, total = _gif_blocks(fp)
            if label == b"\xfe":
                sizes["GIF comment"] += total
            elif label == b"\xff" and first[:11] not in _GIF_ANIMATION_APPS:
                name = first[:11]
                sizes["XMP" if name == b"XMP DataXMP" else f"GIF application data {name.decode('latin-1')!r}"] += total
        if introducer == b";":
            _count_after(fp, fp.tell(), sizes)
    return sizes


def _skip_colour_table(fp: BinaryIO, flags: bytes) -> None:
    if flags and flags[0] & 0x80:
        fp.seek(3 << ((flags[0] & 7) + 1), os.SEEK_CUR)


def _gif_blocks(fp: BinaryIO) -> tuple[bytes, int]:
    """Skip a run of data sub-blocks: (the first block, the bytes of all of them)."""
    first, total = b"", 0
    while (size := fp.read(1)) and size[0]:
        if first:
            fp.seek(size[0], os.SEEK_CUR)
        else:
            first = fp.read(size[0])
        total += size[0]
    return first, total


def _jpeg(image: Image.Image, path: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for marker, data in getattr(image, "applist", []):
        if any(marker == image_marker and data.startswith(prefix) for image_marker, prefix in _JPEG_IMAGE_SEGMENTS):
            continue
        kind = next((kind for prefix, kind in _JPEG_KINDS if data.startswith(prefix)), f"JPEG {marker} segment")
        sizes["JPEG comment" if marker == "COM" else kind] += len(data)
    return sizes


def _tiff(image: Image.Image, path: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    exif = image.getexif()
    tiff_tags = getattr(image, "tag_v2", {})
    for ifd, default in ((tiff_tags, None), (exif.get_ifd(_EXIF_IFD), "EXIF"), (exif.get_ifd(_GPS_IFD), "EXIF")):
        for tag, value in ifd.items():
            if tag in _TIFF_IMAGE_TAGS or not isinstance(value, (bytes, str)):
                continue
            sizes[_TIFF_KINDS.get(tag) or default or f"TIFF tag {TiffTags.lookup(tag).name}"] += len(value)
    return sizes


def _count_after(fp: BinaryIO, end: int, sizes: Counter[str]) -> None:
    after = os.fstat(fp.fileno()).st_size - end
    if after > 0:
        sizes[_AFTER_END] += after
