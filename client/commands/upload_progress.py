"""An upload's progress: a rich bar (bytes, speed, ETA) on a terminal, else a plain line per quarter on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sanacloud.client.commands.output import Output, human_bytes
from sanacloud.client.uploads import UploadProgress


@contextmanager
def upload_progress(out: Output, what: str) -> Iterator[Callable[[UploadProgress], None]]:
    if out.live is None:
        yield _plain_lines(out, what)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=out.live) as bar:
        task = bar.add_task(what, total=None)

        def update(progress: UploadProgress) -> None:
            bar.update(task, total=progress.total_bytes, completed=progress.sent_bytes,
                       description=f"{what} ({progress.files}/{progress.total_files} files)")

        yield update


def _plain_lines(out: Output, what: str) -> Callable[[UploadProgress], None]:
    said = -1

    def update(progress: UploadProgress) -> None:
        nonlocal said
        quarter = 4 * progress.sent_bytes // progress.total_bytes if progress.total_bytes else 4
        if quarter > said:
            said = quarter
            out.note(f"{what}: {human_bytes(progress.sent_bytes)} of {human_bytes(progress.total_bytes)} sent "
                     f"({progress.files} of {progress.total_files} files)")

    return update
