"""Upload intake called directly, without the API: files as the multipart parser hands them over,
small limits, and the reasons each rejected file got."""

from __future__ import annotations

import io
from pathlib import Path

from sanacloud.platform.datasets.intake import IntakeResult, read_upload
from sanacloud.platform.datasets.upload import IncomingFile, IntakeLimits

LIMITS = IntakeLimits(max_file_bytes=1_000_000, max_total_bytes=3_000_000, max_files=20, max_image_pixels=1_000_000,
                      min_image_side=16, max_image_side=2048, max_caption_chars=100, max_image_metadata_bytes=10_000)


def part(name: str, data: bytes, size: int | None = None) -> IncomingFile:
    return IncomingFile(filename=name, stream=io.BytesIO(data), size=len(data) if size is None else size)


def upload(workdir: Path, files: list[IncomingFile], limits: IntakeLimits = LIMITS) -> IntakeResult:
    return read_upload(files, limits, workdir)


def reasons(result: IntakeResult) -> dict[str, str]:
    return {rejection.name: rejection.reason for rejection in result.rejected}


def limits(**changes: int) -> IntakeLimits:
    return IntakeLimits(**{**vars(LIMITS), **changes})
