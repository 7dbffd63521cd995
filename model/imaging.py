"""How an image looks to a viewer, as 8-bit sRGB: the one conversion that upload checks and training share.

A viewer (a browser showing the dataset's preview URL) shows the first frame of an animation, turned by
the EXIF orientation, with samples scaled to 8 bits, colours converted from the embedded ICC profile to
sRGB, and transparent areas over the page: here white. Pillow's `convert("RGB")` alone clips 16-bit
samples (1000 of 65535, a 1.5 % grey, becomes white) and ignores orientation, profiles and transparency.

Pure: Pillow only, no torch, so the API imports it too. `CONVERSION_VERSION` names the behaviour:
caches of converted pixels key on it.
"""

from __future__ import annotations

import io

from PIL import Image, ImageCms, ImageMath, ImageOps, TiffImagePlugin

CONVERSION_VERSION = 2  # bump whenever to_display_rgb turns some file into different pixels
_WHITE = (255, 255, 255)
_ORIENTATION = 0x0112
_SWAPPED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height (ImageOps.exif_transpose's)
_NO_DISPLAY_MAPPING = {"I": "signed or 32-bit integer", "F": "floating-point"}
_COLOUR_MODES = frozenset({"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB"})
_ALPHA_MODES = {"LA": "L", "La": "L", "PA": "RGB", "RGBA": "RGB", "RGBa": "RGB"}  # -> the colour part's mode
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_PROFILE_SPACES = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK", "LAB": "Lab"}  # mode -> ICC colour space
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class UndisplayableImage(ValueError):
    """The image has no standard display mapping; the message says what to convert it to."""


def check_displayable(image: Image.Image) -> None:
    """Raise UndisplayableImage unless `image` (opened; header only) has a display mapping."""
    mode = image.mode
    if mode in _NO_DISPLAY_MAPPING:
        raise UndisplayableImage(f"{_NO_DISPLAY_MAPPING[mode]} samples have no standard display mapping; "
                                 "convert the image to 8- or 16-bit unsigned samples (e.g. a 16-bit PNG)")
    if mode not in _COLOUR_MODES | _ALPHA_MODES.keys() | _SIXTEEN_BIT:
        raise UndisplayableImage(f"image mode {mode} is not supported; convert the image to 8-bit RGB")


def displayed_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) as shown, from the header: the size of `to_display_rgb(image)`."""
    width, height = image.size
    swapped = image.getexif().get(_ORIENTATION) in _SWAPPED and not _oriented_by_pillow(image)
    return (height, width) if swapped else (width, height)


def to_display_rgb(image: Image.Image) -> Image.Image:
    """`image` (just opened, or loaded) as a viewer shows it: a new 8-bit RGB image.

    Raises UndisplayableImage for modes without a display mapping (signed or 32-bit integer and float
    samples). An ICC profile that cannot be read, does not match the image's colours or cannot convert
    them is ignored, as browsers do: the pixels are taken as sRGB. May move `image` to the frame shown.
    """
    check_displayable(image)
    if getattr(image, "default_image", False):  # an APNG whose frame 0 is a still that animating viewers skip
        image.seek(1)
    profile = image.info.get("icc_profile")
    colour, alpha = _split_alpha(_eight_bit(ImageOps.exif_transpose(image)))
    rgb = _to_srgb(colour, profile)
    if alpha is None:
        return rgb
    shown = Image.new("RGB", rgb.size, _WHITE)
    shown.paste(rgb, mask=alpha)
    return shown


def _oriented_by_pillow(image: Image.Image) -> bool:
    """Pillow's TIFF plugin reports the turned size at once, and turns the pixels itself while loading."""
    if not isinstance(image, TiffImagePlugin.TiffImageFile):
        return False
    return image.size != (image.tag_v2.get(256), image.tag_v2.get(257))  # ImageWidth, ImageLength


def _eight_bit(image: Image.Image) -> Image.Image:
    if image.mode not in _SIXTEEN_BIT:
        return image
    samples = image.convert("I")
    grey = samples.point(lambda value: value * (1 / 257) + 0.5).convert("L")  # round(value / 257)
    key = image.info.get("transparency")  # a 16-bit PNG's tRNS colour, which Pillow does not apply
    if not isinstance(key, int):
        return grey
    alpha = ImageMath.lambda_eval(lambda ops: ops["convert"](ops["notequal"](ops["a"], key) * 255, "L"), a=samples)
    return Image.merge("LA", (grey, alpha))


def _split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(colour in L, RGB, CMYK or LAB; alpha as L, or None when opaque)."""
    if image.mode == "1":
        image = image.convert("L")
    if "transparency" in image.info and image.mode in ("L", "RGB", "P"):  # a colour key (or palette alpha)
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    if image.mode in _ALPHA_MODES:
        colour_mode = _ALPHA_MODES[image.mode]
        image = image.convert(colour_mode + "A")  # un-premultiplies La and RGBa
        return image.convert(colour_mode), image.getchannel("A")
    if image.mode in ("P", "RGBX", "YCbCr"):
        return image.convert("RGB"), None
    return image, None


def _to_srgb(colour: Image.Image, icc_profile: bytes | None) -> Image.Image:
    profile = _matching_profile(icc_profile, colour.mode)
    try:
        converted = None if profile is None else ImageCms.profileToProfile(colour, profile, _SRGB, outputMode="RGB")
    except ImageCms.PyCMSError:  # e.g. a device-link profile, which describes no colours to read
        converted = None
    return colour.convert("RGB") if converted is None else converted


def _matching_profile(icc_profile: bytes | None, mode: str) -> ImageCms.ImageCmsProfile | None:
    if not icc_profile or mode not in _PROFILE_SPACES:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    except (OSError, ImageCms.PyCMSError):
        return None
    return profile if profile.profile.xcolor_space.strip() == _PROFILE_SPACES[mode] else None
