"""Upload checks of what an image shows and carries: every mode, as the trainer will see it (the size
reported is the shown one), modes with no display mapping refused, and metadata capped."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tests.helpers.image_modes import ADOBE_RGB_TAGS, CASES, REFUSED, icc_profile, png_chunk, saved
from tests.helpers.images import png_with_text
from tests.helpers.intake import limits, part, reasons, upload

SMALL = Image.new("RGB", (64, 48), (200, 30, 30))
LIMIT = 10_000  # LIMITS.max_image_metadata_bytes
ADVICE = "remove it (e.g. `exiftool -all= --icc_profile:all FILE`, which keeps the colour profile) and upload again"


def test_every_mode_is_accepted_with_the_size_it_is_shown_at(tmp_path: Path) -> None:
    files = [part(f"{index:02}.{case.suffix}", case.data) for index, case in enumerate(CASES)]
    result = upload(tmp_path, files, limits(max_files=len(files), max_total_bytes=10_000_000))
    assert reasons(result) == {}
    assert [(image.width, image.height) for image in result.images] == [case.shown.size for case in CASES]


def test_modes_without_a_display_mapping_are_refused_saying_what_to_convert_to(tmp_path: Path) -> None:
    files = [part(f"{index}.{case.suffix}", case.data) for index, case in enumerate(REFUSED)]
    result = upload(tmp_path, [*files, part("ok.png", saved(SMALL, "PNG"))])
    assert [image.name for image in result.images] == ["ok.png"]
    for index, case in enumerate(REFUSED):
        assert reasons(result)[f"{index}.{case.suffix}"].startswith(case.reason), case.name
        assert "convert the image to 8- or 16-bit unsigned samples" in reasons(result)[f"{index}.{case.suffix}"]


def test_a_20_mb_text_chunk_is_refused_naming_its_size_and_kind(tmp_path: Path) -> None:
    data = png_with_text("Comment", 20_000_000)
    big = limits(max_file_bytes=25_000_000, max_total_bytes=25_000_000, max_image_metadata_bytes=1_048_576)
    result = upload(tmp_path, [part("notes.png", data)], big)
    assert reasons(result) == {"notes.png": "too much metadata: 20,000,008 bytes (PNG text 'Comment': "
                                            "20,000,008 bytes); the limit is 1,048,576 bytes "
                                            f"(SANACLOUD_MAX_IMAGE_METADATA_BYTES); {ADVICE}"}


def big_exif() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[37500] = b"M" * 20_000  # a maker note
    return exif.tobytes()


def gif_with_xmp() -> bytes:
    data = saved(SMALL, "GIF")
    colour_table = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0
    at = 13 + colour_table
    xmp = b"<x:xmpmeta>" + b"y" * 20_000 + b"</x:xmpmeta>"
    blocks = b"".join(bytes([len(chunk)]) + chunk for chunk in (xmp[i:i + 255] for i in range(0, len(xmp), 255)))
    return data[:at] + b"!\xff\x0bXMP DataXMP" + blocks + b"\0" + data[at:]


def png_with_private_chunk() -> bytes:
    data = saved(SMALL, "PNG")
    at = data.index(b"IDAT") - 4
    return data[:at] + png_chunk(b"prVt", random.Random(0).randbytes(20_000)) + data[at:]


def png_with_xmp() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "<x>" + "y" * 20_000 + "</x>")
    return saved(SMALL, "PNG", pnginfo=info)


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("exif.jpg", saved(SMALL, "JPEG", exif=big_exif()), "EXIF: 20,050 bytes"),
    ("xmp.jpg", saved(SMALL, "JPEG", xmp=b"<x>" * 7000), "XMP: 21,029 bytes"),
    ("comment.jpg", saved(SMALL, "JPEG", comment=b"c" * 20_000), "JPEG comment: 20,000 bytes"),
    ("xmp.png", png_with_xmp(), "XMP: 20,029 bytes"),
    ("exif.png", saved(SMALL, "PNG", exif=big_exif()), "EXIF: 20,044 bytes"),
    ("private.png", png_with_private_chunk(), "PNG chunk 'prVt': 20,000 bytes"),
    ("appended.png", saved(SMALL, "PNG") + b"\0" * 20_000, "data after the end of the image: 20,000 bytes"),
    ("exif.webp", saved(SMALL, "WEBP", exif=big_exif()), "EXIF: 20,044 bytes"),
    ("xmp.webp", saved(SMALL, "WEBP", xmp=b"<x>" * 7000), "XMP: 21,000 bytes"),
    ("comment.gif", saved(SMALL, "GIF", comment=b"c" * 20_000), "GIF comment: 20,000 bytes"),
    ("xmp.gif", gif_with_xmp(), "XMP: 20,034 bytes"),
    ("description.tiff", saved(SMALL, "TIFF", tiffinfo={270: "d" * 20_000}), "TIFF tag ImageDescription: 20,000"),
])
def test_metadata_over_the_limit_is_refused_naming_its_kind(tmp_path: Path, name: str, data: bytes,
                                                            kind: str) -> None:
    result = upload(tmp_path, [part(name, data), part("ok.png", saved(SMALL, "PNG"))])
    assert [image.name for image in result.images] == ["ok.png"]
    reason = reasons(result)[name]
    assert reason.startswith("too much metadata: ") and f"({kind}" in reason
    assert reason.endswith(f"the limit is {LIMIT:,} bytes (SANACLOUD_MAX_IMAGE_METADATA_BYTES); {ADVICE}")


def large_colour_profile() -> bytes:
    """Adobe RGB with a 200 kB private tag of random bytes (which zlib cannot shrink in a PNG)."""
    return icc_profile(b"RGB ", {**ADOBE_RGB_TAGS, b"zzzz": random.Random(1).randbytes(200_000)})


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_a_colour_profile_is_image_data_not_metadata(tmp_path: Path, fmt: str) -> None:
    profile = large_colour_profile()
    data = saved(SMALL, fmt, icc_profile=profile)
    assert len(data) > 20 * LIMIT
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.info["icc_profile"] == profile
    result = upload(tmp_path, [part(f"wide.{fmt.lower()}", data)])
    assert reasons(result) == {}


def test_metadata_under_the_limit_is_kept_with_the_file(tmp_path: Path) -> None:
    data = saved(SMALL, "JPEG", exif=Image.Exif().tobytes(), comment=b"shot on a phone" * 100)
    result = upload(tmp_path, [part("phone.jpg", data)])
    assert reasons(result) == {} and result.images[0].path.read_bytes() == data


def test_a_compressed_text_chunk_that_expands_too_far_is_refused_as_metadata(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * 2_000_000, zip=True)  # a few kB stored, 2 MB when read
    result = upload(tmp_path, [part("bomb.png", saved(SMALL, "PNG", pnginfo=info))])
    assert reasons(result) == {"bomb.png": "a compressed PNG text or colour profile chunk expands past 1,048,576 "
                                           "bytes; re-save the image without that metadata (or converted to sRGB, "
                                           "without its profile)"}
