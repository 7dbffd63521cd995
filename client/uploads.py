"""An upload's files (a folder walked whole, a .zip, or a list of files) streamed as one
multipart/form-data body of a known length, reporting progress as the bytes go out."""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sanacloud.client._call import Body
from sanacloud.client.errors import InvalidUpload

CHUNK_BYTES = 256 * 1024
FIELD = "files"


@dataclass(frozen=True)
class UploadProgress:
    """`sent_bytes` of `total_bytes` handed to the connection; `files` of `total_files` sent whole."""

    sent_bytes: int
    total_bytes: int
    files: int
    total_files: int


ProgressCallback = Callable[[UploadProgress], None]


@dataclass(frozen=True)
class UploadFile:
    name: str  # as the dataset will know it: relative to the folder uploaded, with / between parts
    path: Path


def collect_files(path_or_files: str | Path | Sequence[str | Path]) -> list[UploadFile]:
    """The files to send; a folder stands for every file under it, named relative to it."""
    given = [path_or_files] if isinstance(path_or_files, str | Path) else list(path_or_files)
    found: list[UploadFile] = []
    for item in given:
        path = Path(item).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file())
            if not inside:
                raise InvalidUpload(f"folder {str(path)!r} holds no files to upload")
            found.extend(UploadFile(p.relative_to(path).as_posix(), p) for p in inside)
        elif path.is_file():
            found.append(UploadFile(path.name, path))
        else:
            raise InvalidUpload(f"{str(path)!r} is neither a file nor a folder")
    if not found:
        raise InvalidUpload("nothing to upload: give a folder, a .zip, or a list of files")
    return found


def multipart_body(files: Sequence[UploadFile], progress: ProgressCallback | None) -> Body:
    boundary = secrets.token_hex(16)
    heads = [_part_head(boundary, file) for file in files]
    tail = f"--{boundary}--\r\n".encode()
    sizes = [file.path.stat().st_size for file in files]
    total = sum(len(head) + size + 2 for head, size in zip(heads, sizes, strict=True)) + len(tail)

    def chunks() -> Iterator[bytes]:
        sent = done = 0

        def went(count: int) -> None:  # called once the chunk was taken: httpx asks for the next after writing
            nonlocal sent
            sent += count
            if progress is not None:
                progress(UploadProgress(sent, total, done, len(files)))

        for head, file in zip(heads, files, strict=True):
            yield head
            went(len(head))
            with file.path.open("rb") as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    yield chunk
                    went(len(chunk))
            done += 1
            yield b"\r\n"
            went(2)
        yield tail
        went(len(tail))

    return Body(chunks(), f"multipart/form-data; boundary={boundary}", total)


def _part_head(boundary: str, file: UploadFile) -> bytes:
    quoted = file.name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{FIELD}\"; filename=\"{quoted}\"\r\n"
            f"Content-Type: {media_type}\r\n\r\n").encode()
