"""Cursor pagination over time-ordered string ids (newest first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from sanacloud.api.schemas import Page

T = TypeVar("T")


class PageParams(BaseModel):
    cursor: str | None
    limit: int


def page_params(
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(session: Session, query: Select[Any], id_column: Any,
             params: PageParams) -> tuple[Sequence[Any], str | None]:
    """Rows of `query` newer-first, `params.limit` of them after `params.cursor`, and the next cursor."""
    if params.cursor:
        query = query.where(id_column < params.cursor)
    rows = session.scalars(query.order_by(id_column.desc()).limit(params.limit + 1)).all()
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        return rows, str(getattr(rows[-1], id_column.key))
    return rows, None


def to_page(rows: Sequence[Any], next_cursor: str | None, schema: type[T]) -> Page[T]:
    return Page[schema](items=[schema.model_validate(r) for r in rows], next_cursor=next_cursor)  # type: ignore[valid-type, attr-defined]
