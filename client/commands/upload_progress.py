"""An upload's progress: a rich bar (bytes, speed, ETA) on a terminal, else a few plain lines on stderr."""

from __future__ import annotations

import time
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

from sanacloud.client.commands.output import Output, counted, human_bytes
from sanacloud.client.uploads import UploadProgress

PLAIN_EVERY_S = 10


@contextmanager
def upload_progress(out: Output, what: str) -> Iterator[Callable[[UploadProgress], None]]:
    if out.live is None:
        yield PlainLines(out, what)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=out.live) as bar:
        task = bar.add_task(what, total=None)

        def update(progress: UploadProgress) -> None:
            bar.update(task, total=progress.total_bytes, completed=progress.sent_bytes,
                       description=f"{what} ({progress.files}/{progress.total_files} files)")

        yield update


class PlainLines:
    """A line as the upload starts, one every PLAIN_EVERY_S while it lasts, and one when all is sent."""

    def __init__(self, out: Output, what: str) -> None:
        self.out, self.what = out, what
        self.started: float | None = None
        self.last_line = 0.0
        self.done = False

    def __call__(self, progress: UploadProgress) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = self.last_line = now
            self.out.note(f"{self.what}: {counted(progress.total_files, 'file')}, {human_bytes(progress.total_bytes)}")
        elif progress.files == progress.total_files and not self.done:
            self.done = True
            self.out.note(f"{self.what}: all sent in {now - self.started:.1f} s")
        elif now - self.last_line >= PLAIN_EVERY_S and not self.done:
            self.last_line = now
            self.out.note(f"{self.what}: {human_bytes(progress.sent_bytes)} of {human_bytes(progress.total_bytes)} "
                          f"sent ({progress.files} of {progress.total_files} files)")
