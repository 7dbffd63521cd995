"""Schema bases shared by every domain: strict requests, paginated responses."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RequestModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error and not silently ignored, and take
    each value only in its own JSON type: `true` or `"100"` is not a number, `1` is not a boolean.

    FastAPI validates bodies after parsing the JSON, so a field type that JSON can only carry as a
    string (a datetime, an Enum) would be refused in strict mode: use `Literal` for choices."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers_as_integers(cls, data: Any) -> Any:
        """JSON has one number type: as in JSON Schema, 16.0 is the integer 16 (16.5 stays an error)."""
        if not isinstance(data, dict):
            return data
        return {name: int(value) if isinstance(value, float) and value.is_integer() and _takes_int(cls, name)
                else value for name, value in data.items()}


def _takes_int(model: type[BaseModel], name: str) -> bool:
    """Whether the field is an int, or a union with an int (`int | None`, `Annotated[int, ...] | "auto"`)."""
    field = model.model_fields.get(name)
    if field is None:
        return False
    options = get_args(field.annotation) if get_origin(field.annotation) in (Union, UnionType) else (field.annotation,)
    return any((get_args(option)[0] if get_origin(option) is Annotated else option) is int for option in options)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page; null on the last page")
