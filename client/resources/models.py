from __future__ import annotations

from sanacloud.client._call import Call, parse_as, parse_list, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.models import BaseModelInfo, Captioner, CheckpointFile, Model
from sanacloud.client.pagination import PageCall, parse_page


class Checkpoints(Resource[D]):
    @operation("checkpoints-promote")
    def promote(self, checkpoint_id: str, *, name: str) -> Call[Model]:
        """Makes a model of a job's checkpoint, to serve from an endpoint."""
        return Call("checkpoints-promote", parse_as(Model), path={"checkpoint_id": checkpoint_id},
                    json={"name": name})

    @operation("checkpoints-list-files")
    def files(self, checkpoint_id: str) -> Call[list[CheckpointFile]]:
        """The checkpoint's weights, each with a presigned URL to download it (`sanacloud.client.downloads`)."""
        return Call("checkpoints-list-files", parse_list(CheckpointFile), path={"checkpoint_id": checkpoint_id})


class Models(Resource[D]):
    @paged("models-list")
    def list(self, *, limit: int | None = None) -> PageCall[Model]:
        return PageCall(Call("models-list", parse_page(Model), params=without_none(limit=limit)))

    @operation("models-get")
    def retrieve(self, model_id: str) -> Call[Model]:
        return Call("models-get", parse_as(Model), path={"model_id": model_id})

    @operation("models-delete")
    def delete(self, model_id: str) -> Call[None]:
        return Call("models-delete", parse_nothing, path={"model_id": model_id})


class Captioners(Resource[D]):
    @operation("captioners-list")
    def list(self) -> Call[list[Captioner]]:
        """The captioners and scorers a captioning job may name."""
        return Call("captioners-list", parse_list(Captioner))


class BaseModels(Resource[D]):
    @operation("base-models-list")
    def list(self) -> Call[list[BaseModelInfo]]:
        return Call("base-models-list", parse_list(BaseModelInfo))
