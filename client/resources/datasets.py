from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sanacloud.client._call import Call, parse_as, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.models import Dataset, DatasetDetail, DatasetFile, Job, UploadReport
from sanacloud.client.pagination import PageCall, parse_page
from sanacloud.client.uploads import ProgressCallback, collect_files, multipart_body

UPLOAD_ANSWER_S = 600.0  # the API decodes every image of an upload before it answers


class Datasets(Resource[D]):
    @operation("datasets-create")
    def create(self, name: str, *, description: str | None = None) -> Call[Dataset]:
        return Call("datasets-create", parse_as(Dataset), json=without_none(name=name, description=description))

    @operation("datasets-get")
    def retrieve(self, dataset_id: str) -> Call[DatasetDetail]:
        return Call("datasets-get", parse_as(DatasetDetail), path={"dataset_id": dataset_id})

    @paged("datasets-list")
    def list(self, *, limit: int | None = None) -> PageCall[Dataset]:
        return PageCall(Call("datasets-list", parse_page(Dataset), params=without_none(limit=limit)))

    @operation("datasets-update")
    def update(self, dataset_id: str, *, name: str | None = None, description: str | None = None) -> Call[Dataset]:
        return Call("datasets-update", parse_as(Dataset), path={"dataset_id": dataset_id},
                    json=without_none(name=name, description=description))

    @operation("datasets-delete")
    def delete(self, dataset_id: str) -> Call[None]:
        return Call("datasets-delete", parse_nothing, path={"dataset_id": dataset_id})

    @paged("datasets-list-files")
    def files(self, dataset_id: str, *, limit: int | None = None) -> PageCall[DatasetFile]:
        return PageCall(Call("datasets-list-files", parse_page(DatasetFile), path={"dataset_id": dataset_id},
                             params=without_none(limit=limit)))

    @operation("datasets-delete-file")
    def delete_file(self, dataset_id: str, file_id: str) -> Call[None]:
        return Call("datasets-delete-file", parse_nothing, path={"dataset_id": dataset_id, "file_id": file_id})

    @operation("datasets-upload-files")
    def upload(self, dataset_id: str, path_or_files: str | Path | Sequence[str | Path], *,
               on_invalid: str | None = None, progress: ProgressCallback | None = None) -> Call[UploadReport]:
        """Uploads a folder (every file under it), a .zip, or a list of files, streamed in one request.

        on_invalid: "reject" (the API's default: one invalid image refuses the upload) or "skip" (store the
        valid ones; the report lists the rest). progress: called with an `UploadProgress` as bytes go out.
        """
        files = collect_files(path_or_files)
        return Call("datasets-upload-files", parse_as(UploadReport), path={"dataset_id": dataset_id},
                    params=without_none(on_invalid=on_invalid), body=lambda: multipart_body(files, progress),
                    read_timeout=max(UPLOAD_ANSWER_S, self._driver.config.timeout))

    @operation("datasets-caption")
    def caption(self, dataset_id: str, *, captioners: Sequence[str] | None = None, scorer: str | None = None,
                score: bool = True, name: str | None = None, pool: str | None = None, priority: int | None = None,
                idempotency_key: str | None = None) -> Call[Job]:
        """Starts a captioning job: each captioner (default: the platform's) captions every image, and
        the scorer (default: the platform's; none with score=False) scores every caption, yours too."""
        body: dict[str, Any] = without_none(captioners=list(captioners) if captioners else None, name=name,
                                            pool=pool, priority=priority)
        if not score:
            body["scorer"] = None
        elif scorer is not None:
            body["scorer"] = scorer
        key = idempotency_key if idempotency_key is not None else f"sdk-{uuid.uuid4()}"
        return Call("datasets-caption", parse_as(Job), path={"dataset_id": dataset_id}, json=body,
                    headers={"Idempotency-Key": key})
