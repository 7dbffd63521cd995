"""An image file in every mode Pillow opens, each made from known intended pixels: what a viewer shows.

`CASES` must reach the trainer as their `shown` picture; `REFUSED` have no display mapping. Files that
Pillow cannot write (16-bit RGB or keyed PNGs, associated-alpha or signed TIFFs) are written by hand.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageCms

BLOCK = 8  # patches are 8x8, so JPEG's blocks stay flat
COLOURS = [(200, 30, 30), (30, 160, 60), (40, 60, 200), (250, 250, 250), (128, 128, 128), (10, 10, 10)]
GREYS = [4, 40, 100, 160, 220, 250]
ALPHAS = [255, 200, 128, 64, 0, 255]
SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Case:
    name: str
    suffix: str
    data: bytes
    shown: Image.Image  # 8-bit RGB, as a viewer shows the file
    tolerance: int = 0  # per channel: lossy formats and colour conversions round


@dataclass(frozen=True)
class Refused:
    name: str
    suffix: str
    data: bytes
    reason: str  # the start of the upload's rejection reason


def patches(mode: str, values: list[Any], columns: int = 3) -> Image.Image:
    """A picture of 8x8 patches, `columns` wide, one value each (24x16 for six values)."""
    rows = -(-len(values) // columns)
    image = Image.new(mode, (columns * BLOCK, rows * BLOCK))
    for index, value in enumerate(values):
        x, y = index % columns * BLOCK, index // columns * BLOCK
        image.paste(value, (x, y, x + BLOCK, y + BLOCK))
    return image


def over_white(colour: Image.Image, alphas: list[int]) -> Image.Image:
    shown = Image.new("RGB", colour.size, (255, 255, 255))
    shown.paste(colour.convert("RGB"), mask=patches("L", alphas))
    return shown


def max_difference(one: Image.Image, other: Image.Image) -> int:
    return max(high for _, high in ImageChops.difference(one, other).getextrema())


def saved(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def pixels(image: Image.Image) -> list[list[tuple[int, ...]]]:
    def pixel(x: int, y: int) -> tuple[int, ...]:
        value = image.getpixel((x, y))
        return value if isinstance(value, tuple) else (int(value),)

    return [[pixel(x, y) for x in range(image.width)] for y in range(image.height)]


# --- files written by hand -------------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(width: int, height: int, depth: int, colour_type: int, rows: list[bytes], *chunks: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\0" + row for row in rows))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(chunks) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def png16(picture: Image.Image, colour_type: int, *chunks: bytes) -> bytes:
    """`picture` (8-bit L, LA, RGB or RGBA) as a 16-bit PNG: each sample v stored as v * 257."""
    rows = [b"".join(struct.pack(f">{len(p)}H", *(v * 257 for v in p)) for p in row) for row in pixels(picture)]
    return png_of(picture.width, picture.height, 16, colour_type, rows, *chunks)


def one_bit_png(picture: Image.Image, *chunks: bytes) -> bytes:
    rows = [bytes(sum((p[0] > 0) << (7 - bit) for bit, p in enumerate(row[i:i + 8])) for i in range(0, len(row), 8))
            for row in pixels(picture)]
    return png_of(picture.width, picture.height, 1, 0, rows, *chunks)


def tiff_of(width: int, height: int, data: bytes, *, bits: list[int], photometric: int, sample_format: int = 1,
            extra_samples: int | None = None) -> bytes:
    """An uncompressed little-endian TIFF of one strip."""
    tags = {256: (4, [width]), 257: (4, [height]), 258: (3, bits), 259: (3, [1]), 262: (3, [photometric]),
            273: (4, [8]), 277: (3, [len(bits)]), 278: (4, [height]), 279: (4, [len(data)]), 284: (3, [1]),
            339: (3, [sample_format] * len(bits))}
    if extra_samples is not None:
        tags[338] = (3, [extra_samples])
    data += b"\0" * (len(data) % 2)
    ifd_at = 8 + len(data)
    overflow_at = ifd_at + 2 + 12 * len(tags) + 4
    entries, overflow = b"", b""
    for tag, (kind, values) in sorted(tags.items()):
        packed = struct.pack(f"<{len(values)}{'H' if kind == 3 else 'I'}", *values)
        if len(packed) <= 4:
            entries += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        else:
            entries += struct.pack("<HHII", tag, kind, len(values), overflow_at + len(overflow))
            overflow += packed
    return b"II*\0" + struct.pack("<I", ifd_at) + data + struct.pack("<H", len(tags)) + entries + b"\0" * 4 + overflow


def icc_profile(space: bytes, tags: dict[bytes, bytes]) -> bytes:
    """A minimal ICC v2 display profile (header, tag table, tags), enough for littleCMS."""
    table, body = b"", b""
    start = 128 + 4 + 12 * len(tags)
    for signature, data in tags.items():
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (struct.pack(">I", start + len(body)) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntr" + space + b"XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + _s15(0.9642, 1.0, 0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + body


def _s15(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(value * 65536)) for value in values)


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x, y, z)


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))


def _desc(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 78


WHITE_POINT = _xyz(0.9642, 1.0, 0.8249)
ADOBE_RGB_TAGS = {  # Adobe RGB (1998): wider gamut than sRGB, gamma 563/256
    b"desc": _desc("Adobe RGB (1998), test copy"), b"wtpt": WHITE_POINT, b"rXYZ": _xyz(0.60974, 0.31111, 0.01947),
    b"gXYZ": _xyz(0.20528, 0.62567, 0.06087), b"bXYZ": _xyz(0.14919, 0.06322, 0.74457),
    b"rTRC": _curve(563 / 256), b"gTRC": _curve(563 / 256), b"bTRC": _curve(563 / 256)}
ADOBE_RGB = icc_profile(b"RGB ", ADOBE_RGB_TAGS)
DEVICE_LINK = ADOBE_RGB[:12] + b"link" + ADOBE_RGB[16:]  # readable, but converts no colours to sRGB
LINEAR_GREY = icc_profile(b"GRAY", {b"desc": _desc("linear grey"), b"wtpt": WHITE_POINT, b"kTRC": _curve(1.0)})


def _cmyk_shown(cmyk: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """What CMYK_SWAPPED shows for `cmyk`: the naive conversion with C, M and Y rotated (C prints yellow)."""
    cyan, magenta, yellow, black = cmyk
    return tuple(round((255 - value) * (255 - black) / 255) for value in (magenta, yellow, cyan))


def _cmyk_profile() -> bytes:
    """A CMYK printer profile whose lut8 maps the 16 corners of CMYK space to CIELAB as `_cmyk_shown` says."""
    def lab(rgb: tuple[int, int, int]) -> bytes:
        pixel = ImageCms.profileToProfile(Image.new("RGB", (1, 1), rgb), SRGB, ImageCms.createProfile("LAB"),
                                          outputMode="LAB")
        assert pixel is not None
        return bytes(pixel.getpixel((0, 0)))

    corners = itertools.product((0, 255), repeat=4)
    grid = b"".join(lab(_cmyk_shown(corner)) for corner in corners)
    identity = bytes(range(256))
    lut = (b"mft1\0\0\0\0" + bytes([4, 3, 2, 0]) + _s15(1, 0, 0, 0, 1, 0, 0, 0, 1) + identity * 4 + grid
           + identity * 3)
    profile = icc_profile(b"CMYK", {b"desc": _desc("CMYK, channels rotated"), b"wtpt": WHITE_POINT, b"A2B0": lut})
    return profile[:12] + b"prtr" + profile[16:20] + b"Lab " + profile[24:]  # a printer's, CIELAB as PCS


CMYK_SWAPPED = _cmyk_profile()


def in_profile(picture: Image.Image, profile: bytes | None, mode: str) -> Image.Image:
    """`picture` (sRGB) re-encoded in the colour space of `profile` (None: CIELAB): shown alike, stored otherwise."""
    target = ImageCms.createProfile("LAB") if profile is None else ImageCms.ImageCmsProfile(io.BytesIO(profile))
    converted = ImageCms.profileToProfile(picture, SRGB, target, outputMode=mode)
    assert converted is not None
    return converted


# --- the cases ---------------------------------------------------------------------------------------------------

RGB = patches("RGB", COLOURS)
GREY = patches("L", GREYS)
GREY_SHOWN = GREY.convert("RGB")
RGBA = Image.merge("RGBA", (*RGB.split(), patches("L", ALPHAS)))
LA = Image.merge("LA", (GREY, patches("L", ALPHAS)))
PALETTE = patches("P", list(range(6)))
PALETTE.putpalette([channel for colour in COLOURS for channel in colour])
BLACK_WHITE = patches("L", [0, 255, 255, 0, 0, 255])
_CORNERS = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (255, 255, 0, 0), (0, 0, 0, 0)]
CMYK_CORNERS = patches("CMYK", _CORNERS)
CMYK_CORNERS_SHOWN = patches("RGB", [_cmyk_shown(corner) for corner in _CORNERS])


def _keyed(shown: Image.Image, patch: int) -> Image.Image:
    """`shown` with one patch transparent, i.e. white."""
    return over_white(shown, [0 if index == patch else 255 for index in range(6)])


def _animated(fmt: str, **params: Any) -> bytes:
    return saved(RGB, fmt, save_all=True, append_images=[Image.new("RGB", RGB.size, (0, 0, 255))], **params)


def _oriented(orientation: int, fmt: str, **params: Any) -> bytes:
    """The file a camera writes for RGB held in `orientation`: pixels stored turned back, with the EXIF tag."""
    undo = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_270}  # 6: "rotate 90° clockwise to view", so stored turned anticlockwise
    exif = Image.Exif()
    exif[0x0112] = orientation
    return saved(RGB.transpose(undo[orientation]), fmt, exif=exif.tobytes(), **params)


def _grey_tiff_with_associated_alpha() -> bytes:
    """Grey premultiplied by its alpha (TIFF ExtraSamples 1), which Pillow opens as mode La."""
    greys = [grey for row in pixels(GREY) for (grey,) in row]
    alphas = [alpha for row in pixels(patches("L", ALPHAS)) for (alpha,) in row]
    data = b"".join(bytes((round(grey * alpha / 255), alpha)) for grey, alpha in zip(greys, alphas, strict=True))
    return tiff_of(GREY.width, GREY.height, data, bits=[8, 8], photometric=1, extra_samples=1)


def _rgb48_tiff() -> bytes:
    data = b"".join(struct.pack("<3H", *(v * 257 for v in p)) for row in pixels(RGB) for p in row)
    return tiff_of(RGB.width, RGB.height, data, bits=[16, 16, 16], photometric=2)


CASES = [
    Case("8-bit RGB PNG", "png", saved(RGB, "PNG"), RGB),
    Case("16-bit grey PNG", "png", saved(GREY.point(lambda v: v * 257, "I").convert("I;16"), "PNG"), GREY_SHOWN),
    Case("16-bit grey TIFF", "tiff", saved(GREY.point(lambda v: v * 257, "I").convert("I;16"), "TIFF"), GREY_SHOWN),
    Case("16-bit big-endian grey TIFF", "tif", saved(GREY.point(lambda v: v * 257, "I").convert("I;16B"), "TIFF"),
         GREY_SHOWN),
    Case("16-bit grey PNG with a transparent grey", "png",
         png16(GREY, 0, png_chunk(b"tRNS", struct.pack(">H", GREYS[2] * 257))), _keyed(GREY_SHOWN, 2)),
    Case("16-bit grey and alpha PNG", "png", png16(LA, 4), over_white(GREY, ALPHAS), 1),
    Case("48-bit RGB PNG", "png", png16(RGB, 2), RGB),
    Case("64-bit RGBA PNG", "png", png16(RGBA, 6), over_white(RGB, ALPHAS), 1),
    Case("48-bit RGB TIFF", "tiff", _rgb48_tiff(), RGB),
    Case("1-bit PNG", "png", one_bit_png(BLACK_WHITE), BLACK_WHITE.convert("RGB")),
    Case("1-bit PNG with transparent black", "png", one_bit_png(BLACK_WHITE, png_chunk(b"tRNS", b"\0\0")),
         Image.new("RGB", RGB.size, (255, 255, 255))),
    Case("8-bit grey PNG", "png", saved(GREY, "PNG"), GREY_SHOWN),
    Case("grey PNG with a transparent grey", "png", saved(GREY, "PNG", transparency=GREYS[1]), _keyed(GREY_SHOWN, 1)),
    Case("grey and alpha PNG", "png", saved(LA, "PNG"), over_white(GREY, ALPHAS), 1),
    Case("grey and alpha TIFF, associated alpha", "tiff", _grey_tiff_with_associated_alpha(),
         over_white(GREY, ALPHAS), 2),
    Case("RGB PNG with a transparent colour", "png", saved(RGB, "PNG", transparency=COLOURS[0]), _keyed(RGB, 0)),
    Case("RGBA PNG", "png", saved(RGBA, "PNG"), over_white(RGB, ALPHAS), 1),
    Case("RGBA WebP", "webp", saved(RGBA, "WEBP", lossless=True, exact=True), over_white(RGB, ALPHAS), 1),
    Case("RGBA TIFF", "tiff", saved(RGBA, "TIFF"), over_white(RGB, ALPHAS), 1),
    Case("palette PNG", "png", saved(PALETTE, "PNG"), RGB),
    Case("palette PNG with alpha", "png", saved(PALETTE, "PNG", transparency=bytes(ALPHAS)), over_white(RGB, ALPHAS),
         1),
    Case("palette and alpha TIFF", "tiff", saved(Image.merge("PA", (PALETTE, patches("L", ALPHAS))), "TIFF"),
         over_white(RGB, ALPHAS), 1),
    Case("GIF with a transparent colour", "gif", saved(PALETTE, "GIF", transparency=3), _keyed(RGB, 3)),
    Case("animated GIF: the first frame", "gif", _animated("GIF"), RGB),
    Case("animated PNG: the first frame", "png", _animated("PNG"), RGB),
    Case("animated PNG with a default image: the first frame of the animation", "png",
         saved(Image.new("RGB", RGB.size, (0, 255, 0)), "PNG", save_all=True, append_images=[RGB], default_image=True),
         RGB),
    Case("animated WebP: the first frame", "webp", _animated("WEBP", lossless=True), RGB),
    Case("CMYK JPEG", "jpg", saved(RGB.convert("CMYK"), "JPEG", quality=95), RGB, 6),
    Case("CMYK TIFF", "tiff", saved(RGB.convert("CMYK"), "TIFF"), RGB),
    Case("CMYK JPEG with a colour profile", "jpg", saved(CMYK_CORNERS, "JPEG", quality=95, icc_profile=CMYK_SWAPPED),
         CMYK_CORNERS_SHOWN, 10),
    Case("CMYK TIFF with a colour profile", "tiff", saved(CMYK_CORNERS, "TIFF", icc_profile=CMYK_SWAPPED),
         CMYK_CORNERS_SHOWN, 10),
    Case("YCbCr TIFF", "tiff", saved(RGB.convert("YCbCr"), "TIFF"), RGB, 3),
    Case("CIELAB TIFF", "tiff", saved(in_profile(RGB, None, "LAB"), "TIFF"), RGB, 8),
    Case("BMP", "bmp", saved(RGB, "BMP"), RGB),
    Case("JPEG", "jpg", saved(RGB, "JPEG", quality=95, subsampling=0), RGB, 6),
    Case("RGB PNG in Adobe RGB", "png", saved(in_profile(RGB, ADOBE_RGB, "RGB"), "PNG", icc_profile=ADOBE_RGB), RGB, 3),
    Case("JPEG in Adobe RGB", "jpg", saved(in_profile(RGB, ADOBE_RGB, "RGB"), "JPEG", quality=95,
                                           subsampling=0, icc_profile=ADOBE_RGB), RGB, 6),
    Case("grey PNG with a linear grey profile", "png", saved(in_profile(GREY_SHOWN, LINEAR_GREY, "L"), "PNG",
                                                             icc_profile=LINEAR_GREY), GREY_SHOWN, 10),
    Case("RGB PNG with an unreadable colour profile", "png", saved(RGB, "PNG", icc_profile=b"not a profile" * 20),
         RGB),
    Case("RGB PNG with a device-link profile", "png", saved(RGB, "PNG", icc_profile=DEVICE_LINK), RGB),
    Case("grey PNG with an RGB colour profile", "png", saved(GREY, "PNG", icc_profile=ADOBE_RGB), GREY_SHOWN),
    *(Case(f"PNG with EXIF orientation {o}", "png", _oriented(o, "PNG"), RGB) for o in range(2, 9)),
    Case("JPEG with EXIF orientation 6", "jpg", _oriented(6, "JPEG", quality=95, subsampling=0), RGB, 6),
    Case("WebP with EXIF orientation 8", "webp", _oriented(8, "WEBP", lossless=True), RGB),
    Case("TIFF with orientation 6", "tiff", saved(RGB.transpose(Image.Transpose.ROTATE_90), "TIFF",
                                                 tiffinfo={274: 6}), RGB),
]

REFUSED = [
    Refused("floating-point TIFF", "tiff", saved(GREY.convert("F"), "TIFF"),
            "floating-point samples have no standard display mapping"),
    Refused("32-bit integer TIFF", "tiff", saved(GREY.convert("I"), "TIFF"),
            "signed or 32-bit integer samples have no standard display mapping"),
    Refused("signed 16-bit TIFF", "tiff", tiff_of(2 * BLOCK, 2 * BLOCK, b"\0\1" * 4 * BLOCK * BLOCK, bits=[16],
                                                  photometric=1, sample_format=2),
            "signed or 32-bit integer samples have no standard display mapping"),
]
