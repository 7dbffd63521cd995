"""Test data made in code: small images, captions and zip archives."""

from __future__ import annotations

import io
import zipfile

from PIL import Image, PngImagePlugin


def png(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_with_text(keyword: str, length: int) -> bytes:
    """A 64x64 PNG carrying an uncompressed text chunk of `length` characters."""
    info = PngImagePlugin.PngInfo()
    info.add_text(keyword, "x" * length)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 64, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def rotated_jpeg(width: int, height: int) -> bytes:
    """A photo shown at width x height but stored turned, as phones write them (EXIF orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    buffer = io.BytesIO()
    Image.new("RGB", (height, width), (30, 120, 60)).save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def captioned_zip(count: int = 3) -> bytes:
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    names = ["red", "green", "blue", "yellow"]
    entries: dict[str, bytes] = {}
    for i in range(count):
        entries[f"set/{i:03d}.png"] = png(color=colors[i % 4])
        entries[f"set/{i:03d}.txt"] = f"a {names[i % 4]} square".encode()
    return zip_of(entries)


def multipart_body(files: dict[str, bytes], boundary: str = "XyZ", *, closed: bool = True) -> bytes:
    """Files in the field 'files' as raw multipart/form-data bytes; closed=False leaves off the closing boundary."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
             for name, data in files.items()]
    return b"".join(parts) + (f"--{boundary}--\r\n".encode() if closed else b"")
