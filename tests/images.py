"""Test data made in code: small images, captions and zip archives."""

from __future__ import annotations

import io
import zipfile

from PIL import Image


def png(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 64, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
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
