from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from sanacloud.api.schemas import Name, RequestModel, ResponseModel


class MemberCreate(RequestModel):
    email: EmailStr
    role: Literal["tenant_admin", "member"] = "member"


class MemberUpdate(RequestModel):
    role: Literal["tenant_admin", "member"]


class MemberOut(ResponseModel):
    id: str
    email: str
    role: str
    created_at: datetime


class OwnKeyCreate(RequestModel):
    name: Name
    member_id: str | None = Field(default=None, description="a tenant admin may issue keys for another member")
