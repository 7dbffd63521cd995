"""Schema bases shared by every domain: strict requests, paginated responses, problems."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Resolution = Annotated[int, Field(ge=32, le=8192, description="pixels per side; the base model lists those it takes")]
NUL = "\x00"
NUL_REFUSED = "must not contain NUL characters (\\u0000)"


def nul_refused() -> PydanticCustomError:
    """PostgreSQL stores no NUL in text, so no request string may hold one, on either backend."""
    return PydanticCustomError("string_nul", NUL_REFUSED)


class RequestModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error and not silently ignored, and take
    each value only in its own JSON type: `true` or `"100"` is not a number, `1` is not a boolean.

    FastAPI validates bodies after parsing the JSON, so a field type that JSON can only carry as a
    string (a datetime, an Enum) would be refused in strict mode: use `Literal` for choices.

    No string may hold a NUL character, nor a number be NaN or infinite (JSON has neither, but
    Python's parser takes `NaN`; no database column does)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """Strings of this model and of its lists; a nested object checks its own."""
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and NUL in item for item in items):
            raise nul_refused()
        return value

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


class FieldError(BaseModel):
    loc: str = Field(description="the field, as the client wrote it: `hyperparameters.steps`, `query.limit`")
    msg: str


class Problem(BaseModel):
    """Every 4xx and 5xx response: RFC 9457 problem details, as `application/problem+json`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="what was wrong, and how to fix it")
    instance: str = Field(description="the request's path")
    errors: list[FieldError] = Field(default_factory=list, description="one per invalid field, where some were")
