from __future__ import annotations

from datetime import datetime

from sanacloud.api.schemas import Name, RequestModel, ResponseModel


class Promote(RequestModel):
    name: Name


class ModelOut(ResponseModel):
    id: str
    name: str
    kind: str
    family: str
    base_model_id: str | None
    source_checkpoint_id: str | None
    status: str
    created_at: datetime
