"""Upload intake: images validated with Pillow, captions paired, unsafe or oversized uploads refused.

All test data is generated here (Pillow, zipfile, a few hand-made byte strings): no binary fixtures.
"""

from __future__ import annotations

import hashlib
import io
import random
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, WebPImagePlugin

from sanacloud.platform.datasets.intake import Rejection
from sanacloud.platform.datasets.upload import IncomingFile
from sanacloud.platform.errors import InvalidInput, PayloadTooLarge
from tests.helpers.intake import limits, part, reasons, upload

# --- test data ---------------------------------------------------------------------------------------------------


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (40, 30), index) for index in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that only claims a size: IHDR + a tiny IDAT. Decoding it would fail, so a bomb
    rejection proves the size was refused before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def zip_of(entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items() if isinstance(entries, dict) else entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def patch_zip(data: bytes, *, flags: int = 0, file_size: int | None = None) -> bytes:
    """Rewrite the first entry's local and central headers: OR in flag bits, or change the declared size."""
    patched = bytearray(data)
    central = patched.index(b"PK\x01\x02")
    for flags_at, size_at in ((6, 22), (central + 8, central + 24)):
        struct.pack_into("<H", patched, flags_at, struct.unpack_from("<H", patched, flags_at)[0] | flags)
        if file_size is not None:
            struct.pack_into("<I", patched, size_at, file_size)
    return bytes(patched)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if Pillow decodes any pixel."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded {self.size} although the size was over the limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- accepted images and captions --------------------------------------------------------------------------------


def test_accepts_png_jpeg_webp_with_sidecar_captions(workdir: Path) -> None:
    files = {"c.webp": image("WEBP", (80, 60)), "a.png": image("PNG", (64, 48)), "b.jpg": image("JPEG", (32, 32))}
    result = upload(workdir, [part(name, data) for name, data in files.items()] + [
        part("a.txt", b"  a red square\n"), part("b.txt", "un carr\u00e9 rouge".encode()), part("c.txt", b"webp")])

    assert [(i.name, i.format, i.content_type, i.width, i.height) for i in result.images] == [
        ("a.png", "png", "image/png", 64, 48), ("b.jpg", "jpeg", "image/jpeg", 32, 32),
        ("c.webp", "webp", "image/webp", 80, 60)]
    assert [i.caption for i in result.images] == ["a red square", "un carr\u00e9 rouge", "webp"]
    for accepted in result.images:
        data = files[accepted.name]
        assert accepted.path.parent == workdir
        assert accepted.path.read_bytes() == data
        assert (accepted.size_bytes, accepted.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert result.rejected == []
    assert result.warnings == []
    assert sorted(workdir.iterdir()) == sorted(i.path for i in result.images)  # captions are not left behind


@pytest.mark.parametrize(("fmt", "data", "size"), [
    ("gif", animated_gif(), (40, 30)), ("bmp", image("BMP", (20, 17)), (20, 17)),
    ("tiff", image("TIFF", (33, 21)), (33, 21))])
def test_accepts_gif_bmp_tiff(workdir: Path, fmt: str, data: bytes, size: tuple[int, int]) -> None:
    result = upload(workdir, [part(f"x.{fmt}", data)])
    assert [(i.format, i.content_type, (i.width, i.height)) for i in result.images] == [(fmt, f"image/{fmt}", size)]


def test_multi_picture_jpeg_is_a_jpeg(workdir: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (40, 30))])
    result = upload(workdir, [part("camera.jpg", buffer.getvalue())])
    assert [(i.format, i.content_type, i.width) for i in result.images] == [("jpeg", "image/jpeg", 40)]


def test_format_comes_from_the_content_not_the_extension(workdir: Path) -> None:
    result = upload(workdir, [part("photo.png", image("JPEG"))])
    assert [(i.name, i.format, i.content_type) for i in result.images] == [("photo.png", "jpeg", "image/jpeg")]


def test_metadata_jsonl_captions_relative_to_its_folder(workdir: Path) -> None:
    metadata = "\n".join([
        '{"file_name": "001.png", "text": "  a cat  "}',
        "",
        '{"file_name": "sub/002.png", "caption": "a kitten", "extra": 1}',
        '{"file_name": "003.png", "text": ""}',
    ]).encode()
    archive = zip_of({"cats/metadata.jsonl": metadata, "cats/001.png": image(), "cats/sub/002.png": image(),
                      "cats/003.png": image(color=(1, 2, 3)), "004.png": image(color=(4, 5, 6))})
    result = upload(workdir, [part("cats.zip", archive)])
    assert {i.name: i.caption for i in result.images} == {
        "004.png": None, "cats/001.png": "a cat", "cats/003.png": None, "cats/sub/002.png": "a kitten"}
    assert result.warnings[-1] == "2 images have no caption: '004.png', 'cats/003.png'"


def test_metadata_wins_over_a_sidecar_with_a_warning(workdir: Path) -> None:
    result = upload(workdir, [part("metadata.jsonl", b'{"file_name": "a.png", "text": "from metadata"}\n'),
                              part("a.png", image()), part("a.txt", b"from sidecar")])
    assert [i.caption for i in result.images] == ["from metadata"]
    assert result.warnings == ["1 image has captions in both a metadata.jsonl line and a .txt file; the line is used: "
                               "'a.png' (metadata.jsonl line 1 and 'a.txt')"]


def test_metadata_naming_a_missing_image_warns(workdir: Path) -> None:
    metadata = b'{"file_name": "gone.png", "text": "x"}'
    result = upload(workdir, [part("metadata.jsonl", metadata), part("a.png", image())])
    assert result.warnings[0] == ("1 metadata line names an image that is not in the upload: "
                                  "metadata.jsonl line 1 ('gone.png')")


@pytest.mark.parametrize(("line", "problem"), [
    ('{"file_name": "a.png", "text": "ok"', "line 2 is not valid JSON"),
    ('["a.png", "a cat"]', "line 2 is not a JSON object"),
    ('{"text": "a cat"}', 'line 2 has no "file_name"'),
    ('{"file_name": "a.png", "text": 42}', 'line 2: "text" must be a string, not int'),
    ('{"file_name": "a.png", "caption": ["a", "cat"]}', 'line 2: "caption" must be a string, not list'),
    ('{"file_name": "../a.png", "text": "x"}', "line 2: file_name '../a.png' escapes the dataset folder"),
])
def test_malformed_metadata_refuses_the_upload_naming_the_line(workdir: Path, line: str, problem: str) -> None:
    metadata = ('{"file_name": "b.png", "text": "fine"}\n' + line).encode()
    with pytest.raises(InvalidInput, match=r"metadata\.jsonl") as refused:
        upload(workdir, [part("set/metadata.jsonl", metadata), part("set/a.png", image()), part("set/b.png", image())])
    assert problem in refused.value.detail
    assert list(workdir.iterdir()) == []  # nothing left behind


def test_metadata_captioning_an_image_twice_is_refused(workdir: Path) -> None:
    metadata = b'{"file_name": "a.png", "text": "one"}\n{"file_name": "a.png", "text": "two"}\n'
    with pytest.raises(InvalidInput, match=r"metadata.jsonl line 2 captions 'a.png' again .*line 1"):
        upload(workdir, [part("metadata.jsonl", metadata), part("a.png", image())])


def test_zip_with_folders_and_sidecars_in_them(workdir: Path) -> None:
    archive = zip_of({"set/cats/001.png": image(), "set/cats/001.txt": b"a cat", "set/dogs/001.jpg": image("JPEG"),
                      "set/dogs/001.txt": b"a dog", "set/dogs/": b""})
    result = upload(workdir, [part("set.zip", archive), part("cats/002.png", image(color=(9, 9, 9)))])
    assert [(i.name, i.caption) for i in result.images] == [
        ("cats/002.png", None), ("set/cats/001.png", "a cat"), ("set/dogs/001.jpg", "a dog")]


def test_output_is_sorted_whatever_the_upload_order(workdir: Path) -> None:
    names = ["z.png", "b/a.png", "a.png", "m.png"]
    result = upload(workdir, [part(name, image(color=(i, i, i))) for i, name in enumerate(names)])
    assert [i.name for i in result.images] == sorted(names)


# --- names: unsafe names refuse the whole upload ------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "../evil.png", "cats/../../evil.png", "/etc/evil.png", "C:\\evil.png", "c:evil.png", "\\\\server\\share\\evil.png"])
def test_zip_slip_and_absolute_entries_refuse_the_upload(workdir: Path, name: str) -> None:
    archive = zip_of([("good.png", image()), (name, image())])
    with pytest.raises(InvalidInput) as refused:
        upload(workdir, [part("data.zip", archive)])
    assert refused.value.detail.startswith(f"zip entry {name!r} in 'data.zip' escapes the dataset folder")
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(("name", "problem"), [
    ("../evil.png", "escapes the dataset folder"), ("/etc/passwd.png", "escapes the dataset folder (absolute path)"),
    ("D:\\photos\\a.png", "escapes the dataset folder (absolute path)"), ("a.png\x00.txt", "contains a NUL byte"),
    ("a\nb.png", "contains control characters"), ("", "has no file name"), ("./", "has no file name")])
def test_unsafe_multipart_filenames_refuse_the_upload(workdir: Path, name: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        upload(workdir, [part("fine.png", image()), part(name, image())])
    assert refused.value.detail == f"file {name!r} {problem}"


def test_nul_byte_in_a_zip_entry_name_refuses_the_upload(workdir: Path) -> None:
    # zipfile cannot write a NUL in a name (and ZipInfo.filename cuts it off when reading): patch it in
    archive = zip_of({"evil.png#.txt": image(), "ok.png": image()}).replace(b"evil.png#.txt", b"evil.png\x00.txt")
    with pytest.raises(InvalidInput, match=r"zip entry 'evil.png\\x00.txt' in 'a.zip' contains a NUL byte"):
        upload(workdir, [part("a.zip", archive)])


def test_symlink_entry_refuses_the_upload(workdir: Path) -> None:
    link = zipfile.ZipInfo("cats/link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(InvalidInput, match=r"zip entry 'cats/link.png' in 'a.zip' is a symbolic link"):
        upload(workdir, [part("a.zip", zip_of([("cats/ok.png", image()), (link, b"/etc/passwd")]))])


def test_names_are_normalised(workdir: Path) -> None:
    result = upload(workdir, [part("./cats//a.png", image()), part("cats\\b.png", image(color=(0, 0, 0)))])
    assert [i.name for i in result.images] == ["cats/a.png", "cats/b.png"]


def test_an_archive_expands_into_the_folder_it_was_uploaded_to(workdir: Path) -> None:
    result = upload(workdir, [part("cats/set.zip", zip_of({"001.png": image(), "001.txt": b"a cat"}))])
    assert [(i.name, i.caption) for i in result.images] == [("cats/001.png", "a cat")]


def test_names_are_unicode_normalised(workdir: Path) -> None:
    result = upload(workdir, [part("cafe\u0301.png", image()), part("cafe\u0301.txt", b"coffee")])
    assert [(i.name, i.caption) for i in result.images] == [("caf\u00e9.png", "coffee")]
    with pytest.raises(InvalidInput, match="twice"):
        upload(workdir, [part("cafe\u0301.png", image()), part("caf\u00e9.png", image())])


@pytest.mark.parametrize("second", ["a/b.png", "./a//b.png", "a\\b.png"])
def test_duplicate_names_refuse_the_upload(workdir: Path, second: str) -> None:
    with pytest.raises(InvalidInput, match=r"the upload contains 'a/b.png' twice \('a/b.png' in 'x.zip' and 'a/b.png'"):
        upload(workdir, [part("x.zip", zip_of({"a/b.png": image()})), part(second, image())])


# --- archives -----------------------------------------------------------------------------------------------------


def test_nested_zip_is_a_rejected_entry(workdir: Path) -> None:
    inner = zip_of({"hidden.png": image()})
    result = upload(workdir, [part("outer.zip", zip_of({"a.png": image(), "more/inner.zip": inner}))])
    assert [i.name for i in result.images] == ["a.png"]
    assert reasons(result) == {"more/inner.zip": "nested zip archives are not expanded; "
                                                 "put the files in the outer archive instead"}


def test_encrypted_entry_refuses_the_upload(workdir: Path) -> None:
    archive = patch_zip(zip_of({"secret.png": image()}), flags=0x1)
    with pytest.raises(InvalidInput, match=r"zip entry 'secret.png' in 'a.zip' is encrypted"):
        upload(workdir, [part("a.zip", archive)])


@pytest.mark.parametrize("data", [b"this is not a zip file", zip_of({"a.png": image()})[:40], b""])
def test_unreadable_zip_refuses_the_upload(workdir: Path, data: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^'photos.zip' is not a valid zip archive"):
        upload(workdir, [part("photos.zip", data), part("a.png", image())])


def test_corrupt_entry_data_refuses_the_upload(workdir: Path) -> None:
    archive = bytearray(zip_of({"a.png": random.Random(0).randbytes(5000)}))  # incompressible: ~5 kB of data
    archive[2000] ^= 0xFF
    with pytest.raises(InvalidInput, match=r"'a.zip' is not a valid zip archive: entry 'a.png' cannot be read"):
        upload(workdir, [part("a.zip", bytes(archive))])
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("files", [
    [part("empty.zip", zip_of({}))],
    [part("only-folders.zip", zip_of({"a/": b"", "__MACOSX/._a.png": b"junk"}))],
    [part("a.txt", b"a caption"), part("metadata.jsonl", b"")],
    []])
def test_an_upload_without_images_is_refused(workdir: Path, files: list[IncomingFile]) -> None:
    with pytest.raises(InvalidInput, match=r"^the upload contains no images"):
        upload(workdir, files)


def test_an_upload_of_only_non_images_names_each_of_them(workdir: Path) -> None:
    result = upload(workdir, [part("a.txt", b"a caption"), part("notes.pdf", b"%PDF-1.4")])
    assert result.images == []
    assert [r.name for r in result.rejected] == ["notes.pdf"]
    assert result.rejected[0].reason.startswith("not an image: unsupported file type '.pdf'")


# --- sizes and counts ---------------------------------------------------------------------------------------------


def test_oversized_file_is_refused_before_reading(workdir: Path) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        upload(workdir, [part("small.png", image()), part("huge.png", b"", size=5_000_000)])
    assert refused.value.detail == "'huge.png' is 5,000,000 bytes; the limit is 1,000,000 bytes per file"


def test_bytes_are_counted_when_the_declared_size_lies(workdir: Path) -> None:
    with pytest.raises(PayloadTooLarge, match=r"^'liar.png' is larger than 1,000,000 bytes; the limit is 1,000,000"):
        upload(workdir, [part("liar.png", b"\0" * 1_500_000, size=10)])
    assert list(workdir.iterdir()) == []


def test_zip_entry_over_the_file_limit_is_refused_before_extracting(workdir: Path) -> None:
    archive = zip_of({"ok.png": image(), "bomb.png": b"\0" * 5_000_000})  # compresses to a few kB
    assert len(archive) < 50_000
    with pytest.raises(PayloadTooLarge, match=r"^'bomb.png' in 'a.zip' is 5,000,000 bytes; the limit is 1,000,000"):
        upload(workdir, [part("a.zip", archive)])
    assert list(workdir.iterdir()) == []


def test_zip_entry_declaring_a_large_size_is_refused(workdir: Path) -> None:
    archive = patch_zip(zip_of({"a.png": image()}), file_size=3_000_000_000)
    with pytest.raises(PayloadTooLarge, match=r"'a.png' in 'a.zip' is 3,000,000,000 bytes"):
        upload(workdir, [part("a.zip", archive)])


def test_zip_entry_declaring_a_small_size_yields_no_more_than_declared(workdir: Path) -> None:
    """zipfile stops at the declared size and then fails the CRC: a corrupt archive, never extra bytes."""
    archive = patch_zip(zip_of({"a.png": b"\0" * 5_000_000}), file_size=100)
    with pytest.raises(InvalidInput, match=r"'a.zip' is not a valid zip archive: entry 'a.png' cannot be read"):
        upload(workdir, [part("a.zip", archive)])
    assert list(workdir.iterdir()) == []


def test_total_size_after_unzipping_is_limited(workdir: Path) -> None:
    archive = zip_of({f"{i}.png": b"\0" * 900_000 for i in range(4)})
    with pytest.raises(PayloadTooLarge, match=r"^the upload is 3,600,000 bytes after unzipping; the limit is 3,000,"):
        upload(workdir, [part("a.zip", archive)])


def test_total_size_is_counted_while_streaming(workdir: Path) -> None:
    files = [part(f"{i}.png", b"\0" * 900_000, size=0) for i in range(4)]  # sizes unknown to the caller
    with pytest.raises(PayloadTooLarge, match=r"^the upload is larger than 3,000,000 bytes after unzipping"):
        upload(workdir, files)
    assert list(workdir.iterdir()) == []


def test_too_many_files_are_refused(workdir: Path) -> None:
    archive = zip_of({f"{i:03}.png": b"" for i in range(21)})
    with pytest.raises(PayloadTooLarge, match=r"^the upload holds more than 20 files \(after unzipping\)"):
        upload(workdir, [part("a.zip", archive)])
    with pytest.raises(PayloadTooLarge, match="more than 3 files"):
        upload(workdir, [part(f"{i}.png", image()) for i in range(4)], limits(max_files=3))


# --- images that are rejected one by one --------------------------------------------------------------------------


def test_truncated_images_are_rejected(workdir: Path) -> None:
    png, jpeg = image("PNG", (300, 200)), image("JPEG", (300, 200))
    result = upload(workdir, [part("ok.png", image()), part("half.png", png[: len(png) // 2]),
                              part("half.jpg", jpeg[: len(jpeg) // 2]), part("no-end.png", png[:-12])])
    assert [i.name for i in result.images] == ["ok.png"]
    assert reasons(result) == {"half.png": "truncated image", "half.jpg": "truncated image",
                               "no-end.png": "truncated image"}
    assert sorted(workdir.iterdir()) == [result.images[0].path]


def test_corrupt_png_checksum_is_rejected(workdir: Path) -> None:
    data = bytearray(image("PNG", (100, 100)))
    data[data.index(b"IDAT") + 6] ^= 0xFF
    result = upload(workdir, [part("bad.png", bytes(data)), part("ok.png", image())])
    assert reasons(result)["bad.png"].startswith("corrupt image")


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("noise.png", bytes(range(256)) * 4, "not an image: cannot identify image file"),
    ("empty.jpg", b"", "not an image: empty file"),
    ("setup.exe", b"MZ\x90\x00", "not an image: unsupported file type '.exe'"),
    ("paper.pdf", b"%PDF-1.4\n", "not an image: unsupported file type '.pdf'"),
    ("README", b"hello", "not an image: the file has no extension"),
    ("icon.ico", image("ICO", (32, 32)), "unsupported image format ICO (use PNG, JPEG, WEBP, GIF, BMP or TIFF)"),
])
def test_files_that_are_not_accepted_images_are_rejected(workdir: Path, name: str, data: bytes, reason: str) -> None:
    result = upload(workdir, [part("ok.png", image()), part(name, data)])
    assert [i.name for i in result.images] == ["ok.png"]
    assert reasons(result)[name].startswith(reason)


@pytest.mark.parametrize(("size", "reason"), [
    ((8, 300), "image too small: 8x300 pixels; each side must be at least 16"),
    ((3000, 20), "image too large: 3000x20 pixels; each side must be at most 2048")])
def test_image_sides_are_limited(workdir: Path, size: tuple[int, int], reason: str) -> None:
    result = upload(workdir, [part("ok.png", image()), part("odd.png", image(size=size))])
    assert reasons(result) == {"odd.png": reason}


@pytest.mark.usefixtures("no_decoding")
def test_decompression_bomb_is_refused_before_decoding(workdir: Path) -> None:
    result = upload(workdir, [part("bomb.png", png_header(2000, 1000)), part("huge.png", png_header(20000, 20000))])
    assert result.images == []
    assert reasons(result) == {
        "bomb.png": "decompression bomb: 2000x1000 = 2,000,000 pixels exceeds the limit of 1,000,000",
        "huge.png": "decompression bomb: 400,000,000 pixels exceeds the limit of 1,000,000"}


@pytest.mark.usefixtures("no_decoding")
def test_real_image_over_the_pixel_limit_is_refused_before_decoding(workdir: Path) -> None:
    data = image("PNG", (1100, 1000), (0, 0, 0))  # solid colour: 1.1 Mpx in a few kB
    assert len(data) < 20_000
    result = upload(workdir, [part("bomb.png", data)])
    assert reasons(result) == {"bomb.png": "decompression bomb: 1100x1000 = 1,100,000 pixels exceeds the limit of "
                                           "1,000,000"}


def test_webp_bomb_is_refused_before_pillow_opens_it(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = image("WEBP", (1100, 1000), (0, 0, 0))

    def refuse(self: WebPImagePlugin.WebPImageFile) -> None:
        raise AssertionError("Pillow's WebP plugin allocates the canvas while opening")

    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "_open", refuse)
    result = upload(workdir, [part("bomb.webp", data)])
    assert reasons(result) == {"bomb.webp": "decompression bomb: 1100x1000 = 1,100,000 pixels exceeds the limit of "
                                            "1,000,000"}


def test_pillow_global_limit_and_warning_filters_are_left_alone(workdir: Path) -> None:
    before_limit, before_filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    upload(workdir, [part("bomb.png", png_header(20000, 20000)), part("ok.png", image())], limits(max_image_pixels=10))
    assert before_limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == before_filters


# --- captions -----------------------------------------------------------------------------------------------------


def test_orphan_caption_and_uncaptioned_images_warn(workdir: Path) -> None:
    result = upload(workdir, [part("a.png", image()), part("b.png", image(color=(1, 1, 1))),
                              part("other/a.txt", b"same stem, other folder"), part("c.txt", b"nobody")])
    assert result.warnings == ["2 caption files have no matching image: 'c.txt', 'other/a.txt'",
                               "2 images have no caption: 'a.png', 'b.png'"]
    assert result.rejected == []


def test_invalid_utf8_caption_is_rejected_and_the_image_kept_uncaptioned(workdir: Path) -> None:
    result = upload(workdir, [part("a.png", image()), part("a.txt", "caf\u00e9 au lait".encode("latin-1"))])
    assert [(i.name, i.caption) for i in result.images] == [("a.png", None)]
    assert result.rejected == [Rejection("a.txt", "caption is not valid UTF-8 text (invalid continuation byte at "
                                                  "byte 3); save it as UTF-8")]
    assert result.warnings == ["1 image has no caption: 'a.png'"]


def test_too_long_caption_rejects_the_caption_and_the_image(workdir: Path) -> None:
    metadata = b'{"file_name": "m.png", "text": "' + b"y" * 101 + b'"}'
    result = upload(workdir, [part("a.png", image()), part("a.txt", b"x" * 101), part("b.png", image()),
                              part("b.txt", b" " + b"x" * 100 + b"\n"), part("m.png", image()),
                              part("metadata.jsonl", metadata)])
    assert [(i.name, i.caption) for i in result.images] == [("b.png", "x" * 100)]
    assert reasons(result) == {"a.png": "caption longer than 100 characters",
                               "a.txt": "caption longer than 100 characters (101)",
                               "m.png": "caption longer than 100 characters"}


def test_caption_bom_blank_and_nul(workdir: Path) -> None:
    result = upload(workdir, [part("a.png", image()), part("a.txt", b"\xef\xbb\xbf a cat \r\n"),
                              part("b.png", image()), part("b.txt", b" \n\t"),
                              part("c.png", image()), part("c.txt", b"bad\x00caption")])
    assert {i.name: i.caption for i in result.images} == {"a.png": "a cat", "b.png": None, "c.png": None}
    assert reasons(result) == {"c.txt": "caption contains a NUL character"}


def test_one_sidecar_captions_images_sharing_its_stem_and_says_so(workdir: Path) -> None:
    result = upload(workdir, [part("image.tiff", image("TIFF")), part("image.webp", image("WEBP")),
                              part("image.txt", b"shared"), part("other.png", image()), part("other.txt", b"own")])
    assert [(i.name, i.caption) for i in result.images] == [
        ("image.tiff", "shared"), ("image.webp", "shared"), ("other.png", "own")]
    assert result.warnings == ["1 caption file is shared by images with the same name, which all get its caption: "
                               "'image.txt' ('image.tiff', 'image.webp')"]


def test_a_sidecar_shared_with_a_rejected_or_metadata_captioned_image_is_no_clash(workdir: Path) -> None:
    metadata = b'{"file_name": "b.png", "text": "from metadata"}'
    result = upload(workdir, [part("a.png", image()), part("a.jpg", b"not a jpeg"), part("a.txt", b"a"),
                              part("b.png", image(color=(1, 2, 3))), part("b.gif", image("GIF")), part("b.txt", b"b"),
                              part("metadata.jsonl", metadata)])
    assert {i.name: i.caption for i in result.images} == {"a.png": "a", "b.gif": "b", "b.png": "from metadata"}
    assert not any("shared" in warning for warning in result.warnings)


# --- the rest -----------------------------------------------------------------------------------------------------


def test_os_junk_is_ignored_silently(workdir: Path) -> None:
    archive = zip_of({"set/a.png": image(), "__MACOSX/set/._a.png": b"\0\x05\x16\x07", "set/.DS_Store": b"\0\0\0\1",
                      "set/Thumbs.db": b"\xd0\xcf", "set/._b.png": b"junk"})
    result = upload(workdir, [part("set.zip", archive), part(".DS_Store", b"\0"), part("._set.zip", b"junk")])
    assert [i.name for i in result.images] == ["set/a.png"]
    assert result.rejected == []
    assert result.warnings == ["1 image has no caption: 'set/a.png'"]


def test_identical_images_warn(workdir: Path) -> None:
    result = upload(workdir, [part("a.png", image()), part("copy.png", image())])
    assert len(result.images) == 2
    assert result.warnings[0] == ("1 image has the same content as another image in this upload: "
                                  "'copy.png' (same as 'a.png')")


def test_warnings_of_one_kind_are_one_line_however_many_files(workdir: Path) -> None:
    archive = zip_of({f"set/{i:03}.png": image() for i in range(200)})
    result = upload(workdir, [part("set.zip", archive)], limits(max_files=300))
    assert len(result.images) == 200
    assert result.warnings == [
        "199 images have the same content as another image in this upload: 'set/001.png' (same as 'set/000.png'), "
        "'set/002.png' (same as 'set/000.png'), 'set/003.png' (same as 'set/000.png'), "
        "'set/004.png' (same as 'set/000.png'), 'set/005.png' (same as 'set/000.png') and 194 more",
        "200 images have no caption: 'set/000.png', 'set/001.png', 'set/002.png', 'set/003.png', 'set/004.png' "
        "and 195 more"]


def test_limits_must_be_sane() -> None:
    with pytest.raises(ValueError, match="max_files must be positive"):
        limits(max_files=0)
    with pytest.raises(ValueError, match="min_image_side must not exceed max_image_side"):
        limits(min_image_side=100, max_image_side=50)
